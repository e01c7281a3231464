"""Append to and verify the hash-chained audit log.

Each row's hash is SHA-256 over the previous row's hash and the row's own fields in canonical JSON,
so changing, deleting or inserting a row anywhere breaks the chain from that row on. Appends take
the single `audit_head` row's lock, so concurrent writers on PostgreSQL extend one chain, not two.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from huoban.identity.actor import Actor
from huoban.models import AuditEntry, AuditHead, utcnow

GENESIS = "0" * 64


def _plain(value: Any) -> Any:
    """JSON-native copy, so the stored value hashes the same after a round trip through the database."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def _digest(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def _fields(entry: AuditEntry) -> dict[str, Any]:
    at = entry.at.astimezone(UTC) if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
    return {
        "id": entry.id,
        "at": at.isoformat(timespec="microseconds"),
        "actor_user_id": entry.actor_user_id,
        "actor_email": entry.actor_email,
        "actor_org_id": entry.actor_org_id,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "before": entry.before,
        "after": entry.after,
        "ip": entry.ip,
    }


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    object_type: str,
    object_id: object = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    *,
    actor_label: str | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """Append one row in the caller's transaction; it commits or rolls back with the change it records."""
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_id=AuditHead.last_id))
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
    entry = AuditEntry(
        id=head.last_id + 1,
        at=utcnow(),
        actor_user_id=actor.user_id if actor else None,
        actor_email=actor.email if actor else actor_label,
        actor_org_id=actor.org_id if actor else None,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        before=_plain(before),
        after=_plain(after),
        ip=ip or (actor.ip if actor else None),
        prev_hash=head.last_hash,
        hash="",
    )
    entry.hash = _digest(entry.prev_hash, _fields(entry))
    head.last_id = entry.id
    head.last_hash = entry.hash
    session.add(entry)
    session.flush()
    return entry


@dataclass
class VerifyResult:
    checked: int
    first_bad_id: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.first_bad_id is None


def _rows(session: Session, batch: int = 5000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.id > last).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id
        session.expunge_all()


def verify(session: Session) -> VerifyResult:
    """Walk the chain from the start; report the first row whose id, link or hash is wrong."""
    prev_hash, expected_id, checked = GENESIS, 1, 0
    for entry in _rows(session):
        if entry.id != expected_id:
            return VerifyResult(checked, expected_id, f"row {expected_id} is missing")
        if entry.prev_hash != prev_hash:
            return VerifyResult(checked, entry.id, "its link to the previous row does not match")
        if _digest(prev_hash, _fields(entry)) != entry.hash:
            return VerifyResult(checked, entry.id, "its contents do not match its hash")
        prev_hash, expected_id, checked = entry.hash, entry.id + 1, checked + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_id != expected_id - 1 or head.last_hash != prev_hash):
        return VerifyResult(checked, expected_id, f"rows after {expected_id - 1} are missing")
    return VerifyResult(checked)


def snapshot(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """The named attributes of a row, for before/after."""
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(obj, name)
        out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out
