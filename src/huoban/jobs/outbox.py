"""Write e-mails and webhook deliveries to the outbox, in the caller's transaction.

Nothing here commits or sends: rows are added and flushed, so they commit with the change that
caused them and vanish with it on rollback. `huoban worker` delivers committed rows.
A `dedupe_key` makes enqueueing idempotent: a second enqueue with the same key returns the first row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from huoban.config import get_settings
from huoban.db import is_postgres
from huoban.models import OutboxMessage, WebhookEndpoint, utcnow

EMAIL = "email"
WEBHOOK = "webhook"


def _find(session: Session, dedupe_key: str) -> OutboxMessage | None:
    return session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key))


def enqueue(
    session: Session, kind: str, topic: str, payload: dict[str, Any], dedupe_key: str | None = None
) -> OutboxMessage:
    """Add one row due now; with a `dedupe_key` already present, return that row and add nothing."""
    if dedupe_key is not None:
        if not dedupe_key or len(dedupe_key) > 200:
            raise ValueError("a dedupe_key must be 1 to 200 characters")
        found = _find(session, dedupe_key)
        if found is not None:
            return found
    message = OutboxMessage(
        kind=kind, topic=topic[:64], payload=payload, dedupe_key=dedupe_key, status="pending", attempts=0,
        max_attempts=get_settings().outbox_max_attempts, next_attempt_at=utcnow(),
    )
    if dedupe_key is not None and is_postgres(session):
        # Another transaction may insert the same key between our check and our insert: the unique
        # index makes us wait for it, and if it commits we fail inside the savepoint only.
        try:
            with session.begin_nested():
                session.add(message)
                session.flush()
        except IntegrityError:
            found = _find(session, dedupe_key)
            if found is None:
                raise
            return found
        return message
    session.add(message)
    session.flush()
    return message


def enqueue_email(
    session: Session,
    to: list[str],
    subject: str,
    body_text: str,
    body_html: str | None = None,
    dedupe_key: str | None = None,
    topic: str = EMAIL,
) -> OutboxMessage:
    """Queue one e-mail to `to` (plain text, plus an HTML alternative when given)."""
    recipients = [addr.strip() for addr in to if addr and addr.strip()]
    if not recipients:
        raise ValueError("an e-mail needs at least one recipient")
    payload = {"to": recipients, "subject": subject, "body_text": body_text, "body_html": body_html}
    return enqueue(session, EMAIL, topic, payload, dedupe_key)


def enqueue_webhook(
    session: Session, endpoint: WebhookEndpoint, event: str, data: dict[str, Any],
    dedupe_key: str | None = None,
) -> OutboxMessage:
    """Queue one signed POST of `event` to `endpoint`. The URL and secret are read again at delivery,
    so a changed URL or rotated secret applies to what is still queued."""
    payload = {"endpoint_id": endpoint.id, "org_id": endpoint.org_id, "event": event, "data": data,
               "occurred_at": utcnow().isoformat()}
    return enqueue(session, WEBHOOK, event, payload, dedupe_key)


def subscribed(endpoint: WebhookEndpoint, event: str) -> bool:
    return endpoint.is_active and (event in endpoint.events or "*" in endpoint.events)


def publish_event(
    session: Session, org_ids: list[int] | None, event: str, data: dict[str, Any], *,
    dedupe_key: str | None = None,
) -> list[OutboxMessage]:
    """Queue `event` for every active endpoint subscribed to it (or to "*") among `org_ids`
    (None: every organization). With `dedupe_key`, each endpoint's row is keyed
    `{dedupe_key}:{endpoint id}`, so publishing the same occurrence twice queues nothing new."""
    if org_ids is not None and not org_ids:
        return []
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.is_active.is_(True)).order_by(WebhookEndpoint.id)
    if org_ids is not None:
        stmt = stmt.where(WebhookEndpoint.org_id.in_(sorted(set(org_ids))))
    return [
        enqueue_webhook(session, endpoint, event, data,
                        dedupe_key=f"{dedupe_key}:{endpoint.id}" if dedupe_key is not None else None)
        for endpoint in session.scalars(stmt)
        if subscribed(endpoint, event)
    ]
