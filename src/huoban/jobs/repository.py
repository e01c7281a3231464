"""Queries for webhook endpoints, scoped in `readable`, and for the outbox (operators only)."""

from __future__ import annotations

from sqlalchemy import Select, false, func, select
from sqlalchemy.orm import Session

from huoban.errors import Forbidden, NotFound
from huoban.identity.actor import Actor
from huoban.models import OutboxMessage, Role, WebhookEndpoint

OPERATOR_ADMINS = (Role.admin, Role.system_admin)
ORG_ADMINS = (Role.partner_admin, Role.customer_admin)


def is_outbox_admin(actor: Actor) -> bool:
    return actor.is_operator and actor.has_role(*OPERATOR_ADMINS)


def readable(stmt: Select, actor: Actor) -> Select:
    """Endpoints the actor may see and manage: the operator's admin and system_admin all of them,
    a partner_admin or customer_admin its own organization's, everyone else none."""
    if is_outbox_admin(actor):
        return stmt
    if not actor.is_operator and actor.has_role(*ORG_ADMINS):
        return stmt.where(WebhookEndpoint.org_id == actor.org_id)
    return stmt.where(false())


def get_endpoint(session: Session, actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    endpoint = session.scalar(readable(stmt, actor))
    if endpoint is None:
        raise NotFound("Webhook endpoint not found.", field="id")
    return endpoint


def list_endpoints(
    session: Session, actor: Actor, *, org_id: int | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[WebhookEndpoint], int]:
    stmt = readable(select(WebhookEndpoint), actor)
    if org_id is not None:
        stmt = stmt.where(WebhookEndpoint.org_id == org_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(WebhookEndpoint.id).limit(limit).offset(offset))
    return list(rows), total


def require_outbox_admin(actor: Actor) -> None:
    if not is_outbox_admin(actor):
        raise Forbidden("Only the operator's administrators may read the outbox.")


def list_outbox(
    session: Session, actor: Actor, *, status: str | None = None, topic: str | None = None,
    kind: str | None = None, limit: int = 50, offset: int = 0,
) -> tuple[list[OutboxMessage], int]:
    """Newest first, so dead letters and recent failures are on the first page."""
    require_outbox_admin(actor)
    stmt = select(OutboxMessage)
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    if topic:
        stmt = stmt.where(OutboxMessage.topic == topic)
    if kind:
        stmt = stmt.where(OutboxMessage.kind == kind)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(OutboxMessage.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def get_outbox_message(session: Session, actor: Actor, message_id: int) -> OutboxMessage:
    require_outbox_admin(actor)
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound("Outbox message not found.", field="id")
    return message
