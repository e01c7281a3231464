"""Reading the audit log: only the audit_admin may, and then all of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, false, func, select
from sqlalchemy.orm import Session

from huoban.errors import Forbidden, Invalid
from huoban.identity.actor import Actor
from huoban.identity.permissions import can_read_audit
from huoban.models import AuditEntry


@dataclass
class AuditFilter:
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    actor_email: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def readable(stmt: Select, actor: Actor) -> Select:
    """The audit log is the audit_admin's alone (三员分立); everyone else sees no rows."""
    return stmt if can_read_audit(actor) else stmt.where(false())


def require_reader(actor: Actor) -> None:
    if not can_read_audit(actor):
        raise Forbidden("Only the audit administrator may read the audit log.")


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise Invalid("Give a time with its UTC offset, e.g. 2026-11-26T09:00:00+08:00.", field=field)
    return value.astimezone(UTC) if value else None


def list_entries(
    session: Session, actor: Actor, f: AuditFilter, *, limit: int = 50, offset: int = 0
) -> tuple[list[AuditEntry], int]:
    require_reader(actor)
    stmt = readable(select(AuditEntry), actor)
    if f.action:
        stmt = stmt.where(AuditEntry.action.startswith(f.action, autoescape=True))
    if f.object_type:
        stmt = stmt.where(AuditEntry.object_type == f.object_type)
    if f.object_id:
        stmt = stmt.where(AuditEntry.object_id == f.object_id)
    if f.actor_email:
        stmt = stmt.where(AuditEntry.actor_email.contains(f.actor_email.lower(), autoescape=True))
    since, until = _aware(f.since, "since"), _aware(f.until, "until")
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    if until:
        stmt = stmt.where(AuditEntry.at < until)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit).offset(offset))
    return list(rows), total
