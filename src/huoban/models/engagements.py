"""Engagements (商机/项目), consultations, customer-owned requirement versions, change orders and
deliverables graded by the customer."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from huoban.models.base import Base, CreatedAt, utcnow


class Engagement(CreatedAt, Base):
    """A customer's goal on its way to a signed scope and an accepted delivery. Money in fen."""

    __tablename__ = "engagements"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    goal: Mapped[str] = mapped_column(Text)  # in the customer's words
    budget_min_fen: Mapped[int | None] = mapped_column(BigInteger)
    budget_max_fen: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    industry: Mapped[str | None] = mapped_column(String(64))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)  # the account manager
    stage: Mapped[str] = mapped_column(String(16), index=True)
    lost_reason: Mapped[str | None] = mapped_column(Text)
    stage_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    won_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EngagementMember(Base):
    """The provider's people on an engagement (the presales team)."""

    __tablename__ = "engagement_members"
    __table_args__ = (UniqueConstraint("engagement_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(32), default="presales")


class EngagementEvent(Base):
    """The engagement's timeline: stage changes, sign-offs, change orders, acceptance."""

    __tablename__ = "engagement_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))
    from_value: Mapped[str | None] = mapped_column(String(64))
    to_value: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[str | None] = mapped_column(Text)
    is_internal: Mapped[bool] = mapped_column(Boolean, default=False)


class Consultation(CreatedAt, Base):
    """A meeting, call, site visit or workshop, with minutes and follow-ups."""

    __tablename__ = "consultations"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # meeting | call | site_visit | workshop
    held_on: Mapped[date] = mapped_column(Date, index=True)
    title: Mapped[str] = mapped_column(String(200))
    minutes: Mapped[str | None] = mapped_column(Text)
    follow_ups: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


class ConsultationParticipant(Base):
    """Who took part, from which side, and (for the provider's people) the minutes of effort spent."""

    __tablename__ = "consultation_participants"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    side: Mapped[str] = mapped_column(String(16))  # provider | customer | partner
    effort_minutes: Mapped[int] = mapped_column(Integer, default=0)


class RequirementVersion(CreatedAt, Base):
    """One immutable version of an engagement's requirement set; an edit makes the next version.

    status: submitted → signed | returned, or (a change order's version) proposed-change → signed |
    rejected-change; a decided version never changes again, and a newer signed one supersedes older ones
    without touching them. Database triggers (migration 0005) refuse any other change and every delete."""

    __tablename__ = "requirement_versions"
    __table_args__ = (UniqueConstraint("engagement_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("requirement_versions.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_comment: Mapped[str | None] = mapped_column(Text)


class RequirementItem(Base):
    """A requirement in one version. `key` (R-1, R-2, ...) follows the item across versions. Never updated or
    deleted (database triggers refuse it)."""

    __tablename__ = "requirement_items"
    __table_args__ = (UniqueConstraint("version_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("requirement_versions.id"), index=True)
    key: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    acceptance_criteria: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(String(8), default="should")  # must | should | could
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ChangeOrder(CreatedAt, Base):
    """A change to a signed version after the engagement is won; takes effect only when the customer approves."""

    __tablename__ = "change_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"), index=True)
    from_version_id: Mapped[int] = mapped_column(ForeignKey("requirement_versions.id"))
    to_version_id: Mapped[int] = mapped_column(ForeignKey("requirement_versions.id"))
    reason: Mapped[str] = mapped_column(Text)
    effort_hours: Mapped[int] = mapped_column(Integer, default=0)
    price_impact_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | approved | rejected
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_comment: Mapped[str | None] = mapped_column(Text)


class Deliverable(CreatedAt, Base):
    """Something delivered against requirement items, accepted or rejected by the customer with a score."""

    __tablename__ = "deliverables"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    item_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    delivered_by_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | submitted | accepted | rejected
    submitted_at: Mapped[datetime | None]
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
