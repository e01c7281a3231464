"""The visit itself: the assigned engineer accepts, starts travel, checks in (meeting the ticket's on-site clock)
and checks out; the customer confirms a done visit.

Apart from the dispatcher's rules in `service`, but moved by its state machine (`move_order`) and timed by its clock:
`service.utcnow()` is read through the module, so the tests and the demo that freeze it freeze these steps too.
Locks follow service's one order: the ticket, then its SLA clocks, then the work order.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huoban.audit.service import record
from huoban.dispatch import repository as repo
from huoban.dispatch import service
from huoban.dispatch.service import add_event, move_order
from huoban.errors import Conflict, Forbidden, Invalid
from huoban.identity.actor import Actor
from huoban.models import SlaClock, SlaPolicy, Ticket, TicketEvent, WorkOrder
from huoban.sla import clocks


def _own_order(session: Session, actor: Actor, work_order_id: int) -> WorkOrder:
    order = repo.get_work_order(session, actor, work_order_id, for_update=True)
    engineer = repo.engineer_of_user(session, actor.user_id)
    if engineer is None or order.engineer_id != engineer.id:
        raise Forbidden("Only the engineer assigned to this work order does this.")
    return order


def engineer_accept(session: Session, actor: Actor, work_order_id: int) -> WorkOrder:
    order = _own_order(session, actor, work_order_id)
    now = service.utcnow()
    move_order(session, actor, order, "accepted", now)
    order.accepted_at = now
    session.flush()
    return order


def start_travel(session: Session, actor: Actor, work_order_id: int) -> WorkOrder:
    order = _own_order(session, actor, work_order_id)
    now = service.utcnow()
    move_order(session, actor, order, "travelling", now)
    order.travel_started_at = now
    session.flush()
    return order


def check_in(session: Session, actor: Actor, work_order_id: int, at: datetime | None = None) -> WorkOrder:
    """The engineer is on site: meets the ticket's on-site clock at that instant. The ticket and its clocks are
    locked before the order (the one lock order, which a ticket change pushed to its orders takes too)."""
    ticket_id = repo.get_work_order(session, actor, work_order_id).ticket_id  # never changes: no lock needed
    ticket = _lock_ticket(session, ticket_id) if ticket_id is not None else None
    order = _own_order(session, actor, work_order_id)
    now = at or service.utcnow()
    move_order(session, actor, order, "on_site", now)
    order.checked_in_at = now
    if ticket is not None:
        _meet_on_site_clock(session, actor, ticket, order.id, now)
    session.flush()
    return order


def _lock_ticket(session: Session, ticket_id: int) -> Ticket | None:
    """Unscoped on purpose: a partner's engineer may not read tickets, but his check-in on the order that was
    created from this ticket is what meets its on-site clock (as service_desk.record_arrival does)."""
    ticket = session.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update()
                            .execution_options(populate_existing=True))
    session.execute(select(SlaClock.id).where(SlaClock.ticket_id == ticket_id).order_by(SlaClock.id)
                    .with_for_update())
    return ticket


def _meet_on_site_clock(session: Session, actor: Actor, ticket: Ticket, order_id: int, now: datetime) -> None:
    clocks.meet(session, ticket, session.get_one(SlaPolicy, ticket.sla_policy_id), "on_site", now)
    session.add(TicketEvent(ticket_id=ticket.id, at=now, actor_id=actor.user_id, kind="on_site", to_value="arrived",
                            body=f"work order {order_id}", is_public=True))
    ticket.updated_at = now
    session.flush()
    record(session, actor, "ticket.on_site", "ticket", ticket.id, after={"work_order_id": order_id})


def check_out(session: Session, actor: Actor, work_order_id: int, notes: str, at: datetime | None = None
              ) -> WorkOrder:
    if not notes or not notes.strip():
        raise Invalid("Write down what was done on site.", field="notes")
    order = _own_order(session, actor, work_order_id)
    now = at or service.utcnow()
    move_order(session, actor, order, "done", now, body=notes)
    order.checked_out_at = now
    order.work_notes = notes.strip()
    session.flush()
    return order


def confirm_visit(session: Session, actor: Actor, work_order_id: int, rating: int, comment: str | None
                  ) -> WorkOrder:
    """The customer confirms a done visit with a rating 1-5 and a comment, once."""
    order = repo.get_work_order(session, actor, work_order_id, for_update=True)
    if not actor.is_customer:
        raise Forbidden("Only the customer confirms a visit.")
    if order.status != "done":
        raise Conflict("A visit is confirmed once it is done.", field="status")
    if order.confirmed_at is not None:
        raise Conflict("This visit is already confirmed.", field="status")
    if not 1 <= rating <= 5:
        raise Invalid("The rating is between 1 and 5.", field="rating")
    now = service.utcnow()
    order.confirmed_at, order.confirmed_by_id = now, actor.user_id
    order.confirmation_rating, order.confirmation_comment = rating, comment
    order.updated_at = now
    add_event(session, order, actor, "confirmed", new=str(rating), body=comment, at=now)
    record(session, actor, "work_order.confirm", "work_order", order.id, after={"rating": rating})
    session.flush()
    return order
