"""Organizations, users, API tokens and web sessions."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from huoban.models.base import Base, CreatedAt


class OrgKind(enum.StrEnum):
    operator = "operator"
    partner = "partner"
    customer = "customer"


class Role(enum.StrEnum):
    admin = "admin"
    account_manager = "account_manager"
    presales = "presales"
    agent = "agent"
    dispatcher = "dispatcher"
    finance = "finance"
    ecosystem_manager = "ecosystem_manager"
    system_admin = "system_admin"
    security_admin = "security_admin"
    audit_admin = "audit_admin"
    partner_admin = "partner_admin"
    partner_engineer = "partner_engineer"
    partner_finance = "partner_finance"
    customer_admin = "customer_admin"
    customer_member = "customer_member"


ROLES_BY_KIND: dict[OrgKind, tuple[Role, ...]] = {
    OrgKind.operator: (
        Role.admin,
        Role.account_manager,
        Role.presales,
        Role.agent,
        Role.dispatcher,
        Role.finance,
        Role.ecosystem_manager,
        Role.system_admin,
        Role.security_admin,
        Role.audit_admin,
    ),
    OrgKind.partner: (Role.partner_admin, Role.partner_engineer, Role.partner_finance),
    OrgKind.customer: (Role.customer_admin, Role.customer_member),
}


class Organization(CreatedAt, Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    industry: Mapped[str | None] = mapped_column(String(64))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    description: Mapped[str | None] = mapped_column(String(2000))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # For a customer: the operator's account manager who answers for it (SLA escalations notify them).
    account_manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", use_alter=True))

    users: Mapped[list[User]] = relationship(
        back_populates="organization", lazy="raise", foreign_keys="User.org_id"
    )


class User(CreatedAt, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    locale: Mapped[str | None] = mapped_column(String(10))
    timezone: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))

    organization: Mapped[Organization] = relationship(back_populates="users", lazy="raise", foreign_keys=[org_id])


class ApiToken(CreatedAt, Base):
    """A bearer token; only its SHA-256 is stored, the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class WebSession(CreatedAt, Base):
    """A signed-in browser; the cookie carries a random id whose SHA-256 is the key here."""

    __tablename__ = "web_sessions"
    __table_args__ = (UniqueConstraint("id_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    id_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ip: Mapped[str | None] = mapped_column(String(64))
