"""JSON API for webhook endpoints (organization admins, operator admins) and the outbox (operator admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from huoban.api import IdemKey, Limit, Offset, Page, idempotent
from huoban.deps import ApiActor, DbSession
from huoban.jobs import repository, service
from huoban.jobs.schemas import (
    OutboxRead,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhookTestQueued,
    WebhookUpdate,
)

router = APIRouter(tags=["webhooks"])


@router.get("/webhooks", response_model=Page[WebhookRead])
def list_webhooks(
    session: DbSession, actor: ApiActor, limit: Limit = 50, offset: Offset = 0, org_id: int | None = None,
) -> Page[WebhookRead]:
    rows, total = repository.list_endpoints(session, actor, org_id=org_id, limit=limit, offset=offset)
    return Page(items=[WebhookRead.model_validate(r) for r in rows], total=total, limit=limit, offset=offset)


@router.post("/webhooks", status_code=201, responses={201: {"model": WebhookCreated}})
def create_webhook(
    session: DbSession, actor: ApiActor, data: WebhookCreate, key: IdemKey = None
) -> JSONResponse:
    """A new endpoint; its signing `secret` is in this answer only (not in an Idempotency-Key replay)."""

    def write() -> dict[str, object]:
        endpoint, secret = service.create_endpoint(session, actor, data)
        return WebhookCreated(**WebhookRead.model_validate(endpoint).model_dump(), secret=secret).model_dump(
            mode="json"
        )

    return idempotent(session, actor, key, data, write, secret_fields=("secret",))


@router.get("/webhooks/{endpoint_id}", response_model=WebhookRead)
def get_webhook(session: DbSession, actor: ApiActor, endpoint_id: int) -> WebhookRead:
    return WebhookRead.model_validate(repository.get_endpoint(session, actor, endpoint_id))


@router.patch("/webhooks/{endpoint_id}", response_model=WebhookRead)
def update_webhook(session: DbSession, actor: ApiActor, endpoint_id: int, data: WebhookUpdate) -> WebhookRead:
    return WebhookRead.model_validate(service.update_endpoint(session, actor, endpoint_id, data))


@router.delete("/webhooks/{endpoint_id}", status_code=204)
def delete_webhook(session: DbSession, actor: ApiActor, endpoint_id: int) -> Response:
    service.delete_endpoint(session, actor, endpoint_id)
    return Response(status_code=204)


@router.post("/webhooks/{endpoint_id}/test", response_model=WebhookTestQueued, status_code=202)
def test_webhook(session: DbSession, actor: ApiActor, endpoint_id: int) -> WebhookTestQueued:
    """Queue a signed "webhook.test" delivery to this endpoint; the worker sends it."""
    message = service.send_test(session, actor, endpoint_id)
    return WebhookTestQueued(outbox_id=message.id, status=message.status)


@router.get("/outbox", response_model=Page[OutboxRead])
def list_outbox(
    session: DbSession, actor: ApiActor, limit: Limit = 50, offset: Offset = 0,
    status: Annotated[str | None, Query(pattern="^(pending|sending|done|dead)$")] = None,
    topic: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[str | None, Query(pattern="^(email|webhook)$")] = None,
) -> Page[OutboxRead]:
    """Queued, delivered and dead messages, newest first (operator admins only)."""
    rows, total = repository.list_outbox(session, actor, status=status, topic=topic, kind=kind,
                                         limit=limit, offset=offset)
    return Page(items=[OutboxRead.model_validate(r) for r in rows], total=total, limit=limit, offset=offset)


@router.post("/outbox/{message_id}/retry", response_model=OutboxRead)
def retry_outbox(session: DbSession, actor: ApiActor, message_id: int) -> OutboxRead:
    """Put a dead message back in line, due now, with a fresh set of attempts."""
    return OutboxRead.model_validate(service.retry_message(session, actor, message_id))
