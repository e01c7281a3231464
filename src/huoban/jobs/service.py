"""Rules for webhook endpoints and for putting dead outbox rows back in line. Never commits."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from huoban.audit.service import record, snapshot
from huoban.config import get_settings
from huoban.errors import Conflict, Forbidden, Invalid, NotFound
from huoban.identity.actor import Actor
from huoban.jobs import repository
from huoban.jobs.outbox import enqueue_webhook
from huoban.jobs.schemas import WebhookCreate, WebhookUpdate
from huoban.jobs.targets import literal_is_private
from huoban.models import Organization, OutboxMessage, WebhookEndpoint, utcnow

ENDPOINT_FIELDS = ("org_id", "url", "events", "is_active")  # never the secret
TEST_EVENT = "webhook.test"


def can_manage(actor: Actor) -> bool:
    return repository.is_outbox_admin(actor) or (
        not actor.is_operator and actor.has_role(*repository.ORG_ADMINS)
    )


def check_url(url: str) -> str:
    """Only absolute http(s) URLs with a host; ftp:, file:, javascript: or relative ones are refused."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        ok = parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a malformed host or a port out of range
        ok = False
    if not ok or any(c.isspace() for c in url):
        raise Invalid("The URL must be an http:// or https:// address with a host.", field="url")
    if not get_settings().webhook_allow_private and literal_is_private(parts.hostname or ""):
        raise Invalid("Webhooks may not target loopback, private or link-local addresses.", field="url")
    return url


def clean_events(events: list[str]) -> list[str]:
    """Non-empty names, duplicates dropped, order kept."""
    out: list[str] = []
    for event in events:
        name = event.strip()
        if not name:
            raise Invalid("Event names must not be empty.", field="events")
        if name not in out:
            out.append(name)
    if not out:
        raise Invalid("Subscribe to at least one event.", field="events")
    return out


def create_endpoint(session: Session, actor: Actor, data: WebhookCreate) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret, which is returned here only."""
    if not can_manage(actor):
        raise Forbidden("You may not manage webhook endpoints.")
    org_id = data.org_id if data.org_id is not None else actor.org_id
    if org_id != actor.org_id and not repository.is_outbox_admin(actor):
        raise NotFound("Organization not found.", field="org_id")
    if session.get(Organization, org_id) is None:
        raise Invalid("Organization not found.", field="org_id")
    secret = secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(org_id=org_id, url=check_url(data.url), secret=secret,
                               events=clean_events(data.events), is_active=data.is_active)
    session.add(endpoint)
    session.flush()
    record(session, actor, "webhook.create", "webhook_endpoint", endpoint.id,
           after=snapshot(endpoint, ENDPOINT_FIELDS))
    return repository.get_endpoint(session, actor, endpoint.id), secret


def update_endpoint(session: Session, actor: Actor, endpoint_id: int, data: WebhookUpdate) -> WebhookEndpoint:
    endpoint = repository.get_endpoint(session, actor, endpoint_id)
    changes = data.model_dump(exclude_unset=True)
    for key, value in changes.items():
        if value is None:
            raise Invalid("%(name)s cannot be empty.", field=key, name=key)
    if "url" in changes:
        changes["url"] = check_url(changes["url"])
    if "events" in changes:
        changes["events"] = clean_events(changes["events"])
    before = snapshot(endpoint, ENDPOINT_FIELDS)
    for key, value in changes.items():
        setattr(endpoint, key, value)
    session.flush()
    record(session, actor, "webhook.update", "webhook_endpoint", endpoint.id, before=before,
           after=snapshot(endpoint, ENDPOINT_FIELDS))
    return repository.get_endpoint(session, actor, endpoint.id)


def delete_endpoint(session: Session, actor: Actor, endpoint_id: int) -> None:
    """Remove the endpoint; rows still queued for it go dead at delivery ("no longer exists")."""
    endpoint = repository.get_endpoint(session, actor, endpoint_id)
    before = snapshot(endpoint, ENDPOINT_FIELDS)
    session.delete(endpoint)
    session.flush()
    record(session, actor, "webhook.delete", "webhook_endpoint", endpoint_id, before=before)


def send_test(session: Session, actor: Actor, endpoint_id: int) -> OutboxMessage:
    """Queue a "webhook.test" delivery to this endpoint, whatever it subscribed to."""
    endpoint = repository.get_endpoint(session, actor, endpoint_id)
    if not endpoint.is_active:
        raise Conflict("The webhook endpoint is inactive; activate it first.", field="is_active")
    message = enqueue_webhook(session, endpoint, TEST_EVENT, {"endpoint_id": endpoint.id,
                                                              "requested_by": actor.email})
    record(session, actor, "webhook.test", "webhook_endpoint", endpoint.id, after={"outbox_id": message.id})
    return message


def retry_message(session: Session, actor: Actor, message_id: int) -> OutboxMessage:
    """Put a dead row back in line, due now, with a fresh set of attempts (its last error is kept)."""
    message = repository.get_outbox_message(session, actor, message_id)
    if message.status != "dead":
        raise Conflict("Only dead messages can be retried; this one is %(status)s.", field="status",
                       status=message.status)
    before = {"status": message.status, "attempts": message.attempts}
    message.status = "pending"
    message.attempts = 0
    message.next_attempt_at = utcnow()
    message.locked_until = None
    message.claimed_by = None
    session.flush()
    record(session, actor, "outbox.retry", "outbox", message.id, before=before,
           after={"status": message.status, "attempts": message.attempts})
    return message
