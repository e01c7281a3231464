"""JSON API for tickets: raise, list, read, change, move, reply, rate, attach."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, UploadFile
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from huoban.api import IdemKey, Limit, Offset, Page, idempotent
from huoban.deps import ApiActor, DbSession
from huoban.errors import Invalid
from huoban.identity.actor import Actor
from huoban.models import Ticket, utcnow
from huoban.service_desk import repository, service
from huoban.service_desk.schemas import (
    AttachmentRead,
    ClockRead,
    CommentIn,
    EventRead,
    Priority,
    RatingIn,
    Status,
    TicketCreate,
    TicketDetail,
    TicketRead,
    TicketUpdate,
    TransitionIn,
)
from huoban.sla import clocks as clock_rules
from huoban.sla.store import work_calendar

router = APIRouter(tags=["tickets"])


def clock_reads(session: Session, ticket_ids: list[int]) -> dict[int, list[ClockRead]]:
    now = utcnow()
    out: dict[int, list[ClockRead]] = {i: [] for i in ticket_ids}
    for clock in repository.ticket_clocks(session, ticket_ids):
        seen = clock_rules.view(clock, work_calendar(session, clock.calendar_id), now)
        out[clock.ticket_id].append(ClockRead(
            metric=clock.metric, cycle=clock.cycle, target_seconds=clock.target_seconds,
            started_at=clock.started_at, due_at=clock.due_at, paused=clock.paused_since is not None,
            met_at=clock.met_at, breached_at=clock.breached_at, stopped_at=clock.stopped_at,
            state=seen.state,
            seconds_left=seen.seconds_left,
        ))
    return out


def detail(session: Session, actor: Actor, ticket: Ticket) -> TicketDetail:
    return TicketDetail(
        **TicketRead.model_validate(ticket).model_dump(),
        clocks=clock_reads(session, [ticket.id])[ticket.id],
        events=[EventRead.model_validate(e) for e in repository.ticket_events(session, actor, ticket)],
        attachments=[AttachmentRead.model_validate(a) for a in repository.ticket_attachments(session, actor, ticket)],
    )


@router.post("/tickets", status_code=201, response_model=TicketDetail)
def open_ticket(session: DbSession, actor: ApiActor, data: TicketCreate, key: IdemKey = None) -> JSONResponse:
    """Raise a ticket (customer users for their organization; agents on a customer's behalf)."""
    return idempotent(session, actor, key, data,
                      lambda: detail(session, actor, service.open_ticket(session, actor, data, channel="api")))


@router.get("/tickets", response_model=Page[TicketRead])
def list_tickets(
    session: DbSession, actor: ApiActor, limit: Limit = 50, offset: Offset = 0,
    status: Annotated[list[Status] | None, Query()] = None, priority: Priority | None = None,
    customer_org_id: int | None = None, assignee_id: int | None = None,
    region_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    q: Annotated[str | None, Query(max_length=100)] = None, open_only: bool = False,
    order: Annotated[str, Query(pattern="^(urgency|newest)$")] = "urgency",
) -> Page[TicketRead]:
    """Tickets the caller may see; `order=urgency` puts the least time left first."""
    f = repository.TicketFilter(list(status) if status else None, priority, customer_org_id, assignee_id,
                                region_code, q, open_only)
    rows, total = repository.list_tickets(session, actor, f, limit=limit, offset=offset, order=order)
    return Page(items=[TicketRead.model_validate(t) for t in rows], total=total, limit=limit, offset=offset)


@router.get("/tickets/{ticket_id}", response_model=TicketDetail)
def get_ticket(session: DbSession, actor: ApiActor, ticket_id: int) -> TicketDetail:
    return detail(session, actor, repository.get_ticket(session, actor, ticket_id))


@router.patch("/tickets/{ticket_id}", response_model=TicketDetail)
def update_ticket(session: DbSession, actor: ApiActor, ticket_id: int, data: TicketUpdate) -> TicketDetail:
    return detail(session, actor, service.update_ticket(session, actor, ticket_id, data))


@router.post("/tickets/{ticket_id}/status", response_model=TicketDetail)
def transition(session: DbSession, actor: ApiActor, ticket_id: int, data: TransitionIn) -> TicketDetail:
    return detail(session, actor, service.transition(session, actor, ticket_id, data))


@router.post("/tickets/{ticket_id}/comments", response_model=EventRead, status_code=201)
def comment(session: DbSession, actor: ApiActor, ticket_id: int, data: CommentIn, key: IdemKey = None) -> JSONResponse:
    """A public reply, or (provider only) an internal note with `public: false`."""
    return idempotent(session, actor, key, {"ticket": ticket_id, **data.model_dump()},
                      lambda: EventRead.model_validate(service.comment(session, actor, ticket_id, data)))


@router.post("/tickets/{ticket_id}/rating", response_model=TicketRead)
def rate(session: DbSession, actor: ApiActor, ticket_id: int, data: RatingIn) -> TicketRead:
    return TicketRead.model_validate(service.rate(session, actor, ticket_id, data))


@router.post("/tickets/{ticket_id}/on-site-arrival", response_model=TicketDetail)
def on_site_arrival(session: DbSession, actor: ApiActor, ticket_id: int) -> TicketDetail:
    return detail(session, actor, service.record_arrival(session, actor, ticket_id))


@router.post("/tickets/{ticket_id}/attachments", response_model=AttachmentRead, status_code=201)
def attach(
    session: DbSession, actor: ApiActor, ticket_id: int, file: UploadFile, public: bool = True
) -> AttachmentRead:
    """Up to 10 MB; images, PDF, plain text, CSV, zip and Office files whose bytes match their type."""
    data = file.file.read(service.MAX_ATTACHMENT_BYTES + 1)
    if len(data) > service.MAX_ATTACHMENT_BYTES:
        raise Invalid("The file is larger than %(mb)s MB.", field="file", mb=service.MAX_ATTACHMENT_BYTES // 1048576)
    att = service.add_attachment(session, actor, ticket_id, file.filename or "", file.content_type or "", data,
                                 public)
    return AttachmentRead.model_validate(att)


@router.get("/tickets/{ticket_id}/attachments/{attachment_id}")
def download(session: DbSession, actor: ApiActor, ticket_id: int, attachment_id: int) -> Response:
    att = service.get_attachment(session, actor, ticket_id, attachment_id)
    return Response(att.data, media_type=att.content_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(att.filename)}",
    })
