"""Queries for organizations and users, each scoped to what the actor may see."""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from huoban.errors import NotFound
from huoban.identity.actor import Actor
from huoban.models import Organization, User


def readable_orgs(stmt: Select, actor: Actor) -> Select:
    """Operators see every organization; partners and customers only their own."""
    if actor.is_operator:
        return stmt
    return stmt.where(Organization.id == actor.org_id)


def readable_users(stmt: Select, actor: Actor) -> Select:
    """Operators see every user; partners and customers only the users of their own organization."""
    if actor.is_operator:
        return stmt
    return stmt.where(User.org_id == actor.org_id)


def get_org(session: Session, actor: Actor, org_id: int) -> Organization:
    org = session.scalar(readable_orgs(select(Organization).where(Organization.id == org_id), actor))
    if org is None:
        raise NotFound("Organization not found.", field="org_id")
    return org


def get_user(session: Session, actor: Actor, user_id: int) -> User:
    user = session.scalar(readable_users(select(User).where(User.id == user_id), actor))
    if user is None:
        raise NotFound("User not found.", field="user_id")
    return user


def list_orgs(
    session: Session, actor: Actor, *, kind: str | None = None, q: str | None = None,
    limit: int = 50, offset: int = 0,
) -> tuple[list[Organization], int]:
    stmt = readable_orgs(select(Organization), actor)
    if kind:
        stmt = stmt.where(Organization.kind == kind)
    if q:
        stmt = stmt.where(Organization.name.contains(q, autoescape=True))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Organization.kind, Organization.name).limit(limit).offset(offset))
    return list(rows), total


def list_users(
    session: Session, actor: Actor, *, org_id: int | None = None, role: str | None = None,
    q: str | None = None, limit: int = 50, offset: int = 0,
) -> tuple[list[User], int]:
    stmt = readable_users(select(User), actor)
    if org_id is not None:
        stmt = stmt.where(User.org_id == org_id)
    if role:
        stmt = stmt.where(User.role == role)
    if q:
        stmt = stmt.where(
            or_(User.email.contains(q, autoescape=True), User.display_name.contains(q, autoescape=True))
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(User.org_id, User.email).limit(limit).offset(offset))
    return list(rows), total


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def find_org_by_name(session: Session, name: str) -> Organization | None:
    return session.scalar(select(Organization).where(Organization.name == name.strip()))
