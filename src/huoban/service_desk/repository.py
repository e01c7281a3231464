"""Ticket queries, scoped to what the actor may see."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, false, func, select
from sqlalchemy.orm import Session

from huoban.errors import NotFound
from huoban.identity.actor import Actor
from huoban.models import SlaClock, Ticket, TicketAttachment, TicketEvent


def readable(stmt: Select, actor: Actor) -> Select:
    """Operators see every ticket; customer users their own organization's; partners none: a partner's
    engineers see the work orders assigned to their partner (dispatch), not the ticket behind them."""
    if actor.is_operator:
        return stmt
    if actor.is_customer:
        return stmt.where(Ticket.customer_org_id == actor.org_id)
    return stmt.where(false())


def get_ticket(session: Session, actor: Actor, ticket_id: int, *, for_update: bool = False) -> Ticket:
    stmt = readable(select(Ticket).where(Ticket.id == ticket_id), actor)
    if for_update:
        stmt = stmt.with_for_update()
    ticket = session.scalar(stmt)
    if ticket is None:
        raise NotFound("Ticket not found.", field="ticket_id")
    return ticket


@dataclass
class TicketFilter:
    status: list[str] | None = None
    priority: str | None = None
    customer_org_id: int | None = None
    assignee_id: int | None = None
    region_code: str | None = None
    q: str | None = None
    open_only: bool = False


OPEN_STATUSES = ("new", "acknowledged", "in_progress", "waiting_customer")


def list_tickets(
    session: Session, actor: Actor, f: TicketFilter, *, limit: int = 50, offset: int = 0, order: str = "urgency"
) -> tuple[list[Ticket], int]:
    stmt = readable(select(Ticket), actor)
    if f.status:
        stmt = stmt.where(Ticket.status.in_(f.status))
    elif f.open_only:
        stmt = stmt.where(Ticket.status.in_(OPEN_STATUSES))
    if f.priority:
        stmt = stmt.where(Ticket.priority == f.priority)
    if f.customer_org_id is not None:
        stmt = stmt.where(Ticket.customer_org_id == f.customer_org_id)
    if f.assignee_id is not None:
        stmt = stmt.where(Ticket.assignee_id == f.assignee_id)
    if f.region_code:
        # a province or city code matches every site under it
        prefix = f.region_code.rstrip("0") if f.region_code.endswith("00") else f.region_code
        if len(prefix) % 2:
            prefix += "0"
        stmt = stmt.where(Ticket.site_region_code.startswith(prefix))
    if f.q:
        stmt = stmt.where(Ticket.title.contains(f.q, autoescape=True))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    if order == "urgency":
        # earliest unmet due time of any running clock first; tickets without one after
        due = (
            select(func.min(SlaClock.due_at))
            .where(
                SlaClock.ticket_id == Ticket.id, SlaClock.met_at.is_(None), SlaClock.stopped_at.is_(None),
                SlaClock.paused_since.is_(None),
            )
            .correlate(Ticket)
            .scalar_subquery()
        )
        stmt = stmt.order_by(due.is_(None), due, Ticket.priority, Ticket.id)
    else:
        stmt = stmt.order_by(Ticket.id.desc())
    return list(session.scalars(stmt.limit(limit).offset(offset))), total


def ticket_events(session: Session, actor: Actor, ticket: Ticket) -> list[TicketEvent]:
    stmt = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
    if not actor.is_operator:
        stmt = stmt.where(TicketEvent.is_public.is_(True))
    return list(session.scalars(stmt.order_by(TicketEvent.at, TicketEvent.id)))


def ticket_clocks(session: Session, ticket_ids: list[int]) -> list[SlaClock]:
    """The current cycle of each metric's clock for the given tickets."""
    if not ticket_ids:
        return []
    rows = session.scalars(
        select(SlaClock).where(SlaClock.ticket_id.in_(ticket_ids)).order_by(SlaClock.ticket_id, SlaClock.cycle)
    )
    latest: dict[tuple[int, str], SlaClock] = {}
    for clock in rows:
        latest[(clock.ticket_id, clock.metric)] = clock
    return list(latest.values())


def ticket_attachments(session: Session, actor: Actor, ticket: Ticket) -> list[TicketAttachment]:
    stmt = select(TicketAttachment).where(TicketAttachment.ticket_id == ticket.id)
    if not actor.is_operator:
        stmt = stmt.where(TicketAttachment.is_public.is_(True))
    return list(session.scalars(stmt.order_by(TicketAttachment.id)))
