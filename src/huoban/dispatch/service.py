"""Work-order rules: who plans, assigns, cancels and moves what; dispatch rounds and their proposals.

States: proposed -> assigned -> accepted -> travelling -> on_site -> done, and cancelled from any state before
done. A dispatcher (or an operator admin) accepts, changes or rejects the optimizer's proposals: nothing is
assigned silently. Creating an order is in `orders`, the assigned engineer's steps and the customer's
confirmation in `field`; both write through this module's `add_event`/`move_order` and read its `utcnow` (one clock to
freeze). Every change appends a WorkOrderEvent and an audit record. An engineer may hold several active orders
whose windows (planned departure to planned end on site, see `inputs.busy_interval`) do not overlap: accepting
and assigning re-check that under the engineer's row lock (SELECT ... FOR UPDATE), so two dispatchers at once
cannot book one engineer twice at one time.

Locks are always taken in one order, here and in `orders` and `field`, so concurrent writers wait for each other
instead of deadlocking (PostgreSQL's "deadlock detected"): a ticket, then its SLA clocks, then its work orders
(several in id order), then their proposals, then the engineer. A proposal is therefore decided by first finding
its order without a lock, locking the order, and only then locking and re-reading the proposal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.orm import Session

from huoban.audit.service import record
from huoban.config import get_settings
from huoban.dispatch import inputs, optimizer
from huoban.dispatch import repository as repo
from huoban.dispatch.planning import Candidate, EngineerInput, OrderInput, ProposalResult
from huoban.dispatch.travel import TravelModel, great_circle_km
from huoban.errors import Conflict, Forbidden, Invalid
from huoban.identity.actor import Actor
from huoban.jobs.outbox import publish_event
from huoban.models import (
    DispatchPlan,
    DispatchProposal,
    Engineer,
    Role,
    Ticket,
    User,
    WorkOrder,
    WorkOrderEvent,
)
from huoban.models import utcnow as _utcnow

TRANSITIONS: dict[str, set[str]] = {
    "proposed": {"assigned", "cancelled"},
    "assigned": {"assigned", "accepted", "cancelled"},
    "accepted": {"assigned", "travelling", "cancelled"},
    "travelling": {"on_site", "cancelled"},
    "on_site": {"done", "cancelled"},
    "done": set(),
    "cancelled": set(),
}
PLANNER_ROLES = (Role.admin, Role.dispatcher)
CREATOR_ROLES = (Role.admin, Role.dispatcher, Role.agent)
SKILL_REASONS = ("missing_skill", "missing_skill_combination")
CERT_REASONS = ("missing_certification", "certification_expired")


def utcnow() -> datetime:
    return _utcnow()


def is_planner(actor: Actor) -> bool:
    return actor.is_operator and actor.has_role(*PLANNER_ROLES)


def may_read_board(actor: Actor) -> bool:
    return actor.is_operator and actor.has_role(*CREATOR_ROLES)


def _require_planner(actor: Actor) -> None:
    if not is_planner(actor):
        raise Forbidden("Only dispatchers and operator admins plan and assign work orders.")


def travel_model() -> TravelModel:
    return TravelModel.from_settings(get_settings())


def add_event(session: Session, order: WorkOrder, actor: Actor | None, kind: str, *, old: str | None = None,
           new: str | None = None, body: str | None = None, at: datetime | None = None) -> WorkOrderEvent:
    event = WorkOrderEvent(work_order_id=order.id, at=at or utcnow(), actor_id=actor.user_id if actor else None,
                           kind=kind, from_value=None if old is None else old[:64],
                           to_value=None if new is None else new[:64], body=body)
    session.add(event)
    session.flush()
    return event


def move_order(session: Session, actor: Actor, order: WorkOrder, target: str, now: datetime,
          body: str | None = None) -> str:
    """Change the status if the state machine allows it (409 otherwise); event, audit and webhook."""
    old = order.status
    if target not in TRANSITIONS.get(old, set()):
        raise Conflict("A work order cannot go from %(old)s to %(new)s.", field="status", old=old, new=target)
    order.status = target
    order.updated_at = now
    if old != target:
        add_event(session, order, actor, "status", old=old, new=target, body=body, at=now)
        record(session, actor, "work_order.status", "work_order", order.id, before={"status": old},
               after={"status": target})
        publish_event(session, [order.customer_org_id], "work_order.status",
                      {"work_order_id": order.id, "from": old, "to": target})
    return old


def _supersede(session: Session, order_ids: list[int], status: str = "superseded", actor: Actor | None = None,
               note: str | None = None, now: datetime | None = None, keep: int | None = None) -> None:
    """Close the pending proposals of these orders (all but `keep`)."""
    if not order_ids:
        return
    stmt = update(DispatchProposal).where(
        DispatchProposal.work_order_id.in_(order_ids), DispatchProposal.status == "pending")
    if keep is not None:
        stmt = stmt.where(DispatchProposal.id != keep)
    values: dict[str, Any] = {"status": status}
    if actor is not None:
        values.update(decided_by_id=actor.user_id, decided_at=now or utcnow(), decision_note=note)
    session.execute(stmt.values(**values).execution_options(synchronize_session=False))
    session.flush()


# --- planning ------------------------------------------------------------------------------------------------


@dataclass
class PlanOutcome:
    plan: DispatchPlan
    proposals: list[DispatchProposal]


def _candidate_json(c: Candidate | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {"engineer_id": c.engineer_id, "engineer": c.engineer_name, "organization": c.org_name,
            "distance_km": c.distance_km, "travel_minutes": c.travel_minutes, "arrival_at": c.arrival_at.isoformat(),
            "on_time": c.on_time, "late_minutes": c.late_minutes, "skills_matched": list(c.skills_matched),
            "from_work_order_id": c.from_work_order_id}


def explanation(order: OrderInput, result: ProposalResult, travel: TravelModel) -> dict[str, Any]:
    """Why this engineer (or nobody): skills matched, certification, distance band, travel (from the home base,
    or from the site of the work order the engineer is at: `from_work_order_id`), arrival against due time, the
    runner-up and how many engineers qualified."""
    c = result.chosen
    return {
        "engineer": c.engineer_name if c else None,
        "organization": c.org_name if c else None,
        "skills_matched": list(c.skills_matched) if c else [],
        "required_skills": sorted(order.required_skills),
        "certification": order.required_certification,
        "band": travel.band(c.distance_km) if c else None,
        "distance_km": c.distance_km if c else None,
        "from_work_order_id": c.from_work_order_id if c else None,
        "travel_minutes": c.travel_minutes if c else None,
        "arrival_at": c.arrival_at.isoformat() if c else None,
        "due_at": result.due_at.isoformat() if result.due_at else None,
        "on_time": c.on_time if c else None,
        "late_minutes": c.late_minutes if c else None,
        "runner_up": _candidate_json(result.runner_up),
        "qualified_count": result.qualified_count,
        "reasons": list(result.reasons),
    }


def refresh_from_tickets(session: Session, orders: list[WorkOrder], now: datetime | None = None,
                         actor: Actor | None = None) -> int:
    """Bring open orders made from a ticket up to the ticket: the arrival due time from its running on-site
    clock (a priority change or a pause moves it) and its priority, each change a timeline event. Returns how
    many orders changed. Lists, urgency order and the board's late badge read these columns. Call with the
    orders locked (`refresh_for_tickets` and a stored plan round do)."""
    linked = [o for o in orders if o.ticket_id is not None and o.status in repo.OPEN_STATES]
    if not linked:
        return 0
    now = now or utcnow()
    ticket_ids = list({o.ticket_id for o in linked if o.ticket_id is not None})
    dues = inputs.on_site_due(session, ticket_ids)
    priorities = {tid: p for tid, p in session.execute(
        select(Ticket.id, Ticket.priority).where(Ticket.id.in_(ticket_ids)))}
    changed = 0
    for order in linked:
        assert order.ticket_id is not None
        due, priority = dues.get(order.ticket_id), priorities.get(order.ticket_id)
        moved = False
        if due is not None and due != order.arrival_due_at:
            old = order.arrival_due_at.isoformat() if order.arrival_due_at else None
            add_event(session, order, actor, "due", old=old, new=due.isoformat(), at=now)
            order.arrival_due_at, moved = due, True
        if priority is not None and priority != order.priority:
            add_event(session, order, actor, "priority", old=order.priority, new=priority, at=now)
            order.priority, moved = priority, True
        if moved:
            order.updated_at = now
            changed += 1
    if changed:
        session.flush()
    return changed


def refresh_for_tickets(session: Session, ticket_ids: list[int] | Select[Any], now: datetime | None = None,
                        actor: Actor | None = None) -> int:
    """Push a ticket change to its open work orders in the change's own transaction: a priority change, a pause
    or resume, a calendar or policy edit (`ticket_ids` a list or a SELECT of ids). Reading an order never
    writes it. The caller holds the tickets' or clocks' locks; the orders are locked after them, in id order."""
    orders = repo.lock_orders(session, WorkOrder.ticket_id.in_(ticket_ids), WorkOrder.status.in_(repo.OPEN_STATES))
    return refresh_from_tickets(session, orders, now, actor)


def compute_plan(session: Session, actor: Actor | None, now: datetime | None = None, *, refresh: bool = False
                 ) -> PlanOutcome:
    """One optimizer round over the open (proposed) orders and the free engineers; no plan is written.
    With `refresh` (a round to be stored), every order the round may write is locked first, in id order, and
    the orders' due times and priorities are brought up to their tickets (`refresh_from_tickets`); the
    proposals then rest on orders nobody changes meanwhile. `actor` None is the command line
    (`huoban dispatch plan`)."""
    if actor is not None:
        _require_planner(actor)
    now = now or utcnow()
    if refresh:
        locked = repo.lock_orders(session, WorkOrder.status.in_(repo.OPEN_STATES),
                                  or_(WorkOrder.ticket_id.is_not(None), WorkOrder.status == "proposed"))
        refresh_from_tickets(session, locked, now)
    orders = list(session.scalars(select(WorkOrder).where(WorkOrder.status == "proposed").order_by(WorkOrder.id)))
    order_in = inputs.order_inputs(session, orders)
    engineer_in = inputs.engineer_inputs(session, now)
    travel = travel_model()
    result = optimizer.plan(order_in, engineer_in, now, travel)
    by_id = {o.id: o for o in order_in}
    proposals = []
    for r in result.proposals:
        c = r.chosen
        proposals.append(DispatchProposal(
            work_order_id=r.order_id, engineer_id=c.engineer_id if c else None, status="pending",
            distance_km=c.distance_km if c else None, travel_minutes=c.travel_minutes if c else None,
            arrival_at=c.arrival_at if c else None, due_at=r.due_at, on_time=c.on_time if c else None,
            explanation=explanation(by_id[r.order_id], r, travel), created_at=now,
        ))
    late = sum(1 for r in result.proposals if r.chosen is not None and r.chosen.on_time is False)
    unassigned = sum(1 for r in result.proposals if r.chosen is None)
    plan = DispatchPlan(
        created_by_id=actor.user_id if actor else None, planned_at=now, order_count=len(order_in),
        engineer_count=len(engineer_in), on_time_count=result.on_time, late_count=late, unassigned_count=unassigned,
        travel_minutes=result.travel_minutes, solve_ms=round(result.solve_seconds * 1000), created_at=now,
    )
    return PlanOutcome(plan, proposals)


def plan_round(session: Session, actor: Actor | None, now: datetime | None = None, persist: bool = True
               ) -> DispatchPlan:
    """Run a round; when `persist`, store the plan and one proposal per open order (earlier pending proposals
    of those orders become superseded). Use `repository.list_proposals(plan_id=...)` for the proposals."""
    outcome = compute_plan(session, actor, now, refresh=persist)
    if persist:
        persist_plan(session, actor, outcome)
    return outcome.plan


def persist_plan(session: Session, actor: Actor | None, outcome: PlanOutcome) -> PlanOutcome:
    """Store the round; its orders are locked (again, if `compute_plan(refresh=True)` already did) before
    their pending proposals are superseded."""
    plan = outcome.plan
    session.add(plan)
    session.flush()
    order_ids = [p.work_order_id for p in outcome.proposals]
    if order_ids:
        repo.lock_orders(session, WorkOrder.id.in_(order_ids))
    _supersede(session, order_ids)
    for proposal in outcome.proposals:
        proposal.plan_id = plan.id
        session.add(proposal)
    session.flush()
    record(session, actor, "dispatch.plan", "dispatch_plan", plan.id,
           after={"orders": plan.order_count, "engineers": plan.engineer_count, "on_time": plan.on_time_count,
                  "late": plan.late_count, "unassigned": plan.unassigned_count},
           actor_label=None if actor else "cli")
    return outcome


# --- assigning -----------------------------------------------------------------------------------------------


def _engineer_name(session: Session, engineer: Engineer) -> str:
    return session.get_one(User, engineer.user_id).display_name


def _estimate(session: Session, order: WorkOrder, engineer: Engineer, now: datetime, *, override: bool) -> Candidate:
    """The engineer's estimate for the order if free and qualified for it; else 409 (another active order or an
    absence overlapping the visit, no capacity, region) or 422 (a missing skill or certification) naming
    engineer_id. An override ignores the regions served. The trip starts where the plan starts it (the site of
    the engineer's current job, else the home base: `inputs.engineer_inputs`), so what is booked is what the
    proposal and the pick list showed. Call with the engineer's row locked."""
    name = _engineer_name(session, engineer)
    if not engineer.is_active:
        raise Conflict("%(name)s is not active.", field="engineer_id", name=name)
    found = inputs.engineer_inputs(session, now, [engineer], ignore_regions=override, exclude_order=order.id)
    if not found:
        raise Conflict("%(name)s has no working time in the coming month.", field="engineer_id", name=name)
    order_in = inputs.order_inputs(session, [order])[0]
    travel = travel_model()
    picks = optimizer.candidates(order_in, found, now, travel, limit=1)
    if picks:
        return picks[0]
    why = optimizer.parse_reason(optimizer.unqualified_reason(order_in, found, now, travel) or "on_leave_or_busy")
    listed = why["params"]
    code, params = str(why["code"]), ", ".join(str(p) for p in listed) if isinstance(listed, list) else ""
    if code in SKILL_REASONS:
        raise Invalid("%(name)s lacks the skills this order needs: %(skills)s.", field="engineer_id", name=name,
                      skills=", ".join(sorted(order_in.required_skills - found[0].skills)) or params)
    if code == "missing_certification":
        raise Invalid("%(name)s does not hold the certification %(cert)s.", field="engineer_id", name=name,
                      cert=params)
    if code == "certification_expired":
        raise Invalid("%(name)s's certification %(cert)s has expired by the arrival.", field="engineer_id",
                      name=name, cert=params)
    if code == "region_not_served":
        raise Conflict("%(name)s does not serve division %(code)s.", field="engineer_id", name=name, code=params)
    if code == "no_capacity":
        raise Conflict("%(name)s has reached today's maximum of work orders.", field="engineer_id", name=name)
    depart, leave = _window(order_in, found[0], now, travel)
    for start, end, order_id in inputs.busy_intervals(session, [engineer.id], now, exclude_order=order.id)[engineer.id]:
        if depart < end and start < leave:
            raise Conflict("%(name)s already holds work order %(order)s at that time.", field="engineer_id",
                           name=name, order=order_id)
    counts = inputs.orders_per_day(session, [engineer.id], now).get(engineer.id, {})
    for start, end in inputs.full_days(counts, engineer.max_orders_per_day, now):
        if depart < end and start < leave:
            raise Conflict("%(name)s already has the day's maximum of work orders on %(day)s.", field="engineer_id",
                           name=name, day=inputs.china_date(start).isoformat())
    raise Conflict("%(name)s is away (leave, training or off duty) during the visit.", field="engineer_id",
                   name=name)


def _window(order: OrderInput, found: EngineerInput, now: datetime, travel: TravelModel
            ) -> tuple[datetime, datetime]:
    """[departure, end on site) of the visit as the optimizer places it."""
    minutes = travel.minutes(great_circle_km(found.longitude, found.latitude, order.longitude, order.latitude))
    depart = optimizer.departure(order, found, now, minutes)
    return depart, depart + timedelta(minutes=minutes + order.estimated_minutes)


def _book(session: Session, actor: Actor, order: WorkOrder, engineer: Engineer, estimate: Candidate,
          now: datetime) -> None:
    """Set the order assigned to the engineer (`_estimate` has checked the window under the engineer's lock)."""
    move_order(session, actor, order, "assigned", now)
    order.engineer_id = engineer.id
    order.assigned_org_id = engineer.org_id
    order.assigned_by_id = actor.user_id
    order.assigned_at = now
    order.accepted_at = None
    order.planned_arrival_at = estimate.arrival_at
    order.travel_minutes = estimate.travel_minutes
    order.distance_km = estimate.distance_km
    session.flush()


def _pending_proposal(session: Session, actor: Actor, proposal_id: int) -> tuple[WorkOrder, DispatchProposal]:
    """The proposal and its order, both locked in the one lock order: the order first (found by an unlocked
    read, a proposal never moves to another order), then the proposal, re-read and still pending (409 if
    another dispatcher decided it meanwhile)."""
    found = repo.get_proposal(session, actor, proposal_id)
    _require_planner(actor)
    order = repo.get_work_order(session, actor, found.work_order_id, for_update=True)
    proposal = repo.get_proposal(session, actor, proposal_id, for_update=True)
    if proposal.status != "pending":
        raise Conflict("This proposal is already %(status)s.", field="status", status=proposal.status)
    return order, proposal


def accept_proposal(session: Session, actor: Actor, proposal_id: int) -> WorkOrder:
    """Assign the proposed engineer, after re-checking under locks that the engineer is still free and qualified."""
    order, proposal = _pending_proposal(session, actor, proposal_id)
    if proposal.engineer_id is None:
        raise Conflict("This proposal has no engineer: assign one by hand.", field="engineer_id")
    if order.status != "proposed":
        raise Conflict("A work order cannot go from %(old)s to %(new)s.", field="status", old=order.status,
                       new="assigned")
    engineer = repo.get_engineer(session, actor, proposal.engineer_id, for_update=True)
    now = utcnow()
    estimate = _estimate(session, order, engineer, now, override=False)
    _book(session, actor, order, engineer, estimate, now)
    proposal.status, proposal.decided_by_id, proposal.decided_at = "accepted", actor.user_id, now
    _supersede(session, [order.id], keep=proposal.id)
    add_event(session, order, actor, "assigned", new=str(engineer.id), body=estimate.engineer_name, at=now)
    record(session, actor, "dispatch.accept", "work_order", order.id,
           after={"proposal_id": proposal.id, "engineer_id": engineer.id})
    session.flush()
    return order


def reject_proposal(session: Session, actor: Actor, proposal_id: int, note: str | None) -> DispatchProposal:
    order, proposal = _pending_proposal(session, actor, proposal_id)
    now = utcnow()
    proposal.status, proposal.decided_by_id, proposal.decided_at, proposal.decision_note = (
        "rejected", actor.user_id, now, note)
    add_event(session, order, actor, "note", old=str(proposal.engineer_id) if proposal.engineer_id else None,
           body=f"proposal {proposal.id} rejected" + (f": {note}" if note else ""), at=now)
    record(session, actor, "dispatch.reject", "dispatch_proposal", proposal.id, after={"note": note})
    session.flush()
    return proposal


def assign(session: Session, actor: Actor, work_order_id: int, engineer_id: int, note: str | None) -> WorkOrder:
    """The dispatcher picks the engineer (a change of the proposal, or a reassignment before travel starts).
    Refused with 422 when the engineer lacks a skill or certification, 409 when busy or away."""
    order = repo.get_work_order(session, actor, work_order_id, for_update=True)
    _require_planner(actor)
    if "assigned" not in TRANSITIONS.get(order.status, set()):
        raise Conflict("A work order cannot go from %(old)s to %(new)s.", field="status", old=order.status,
                       new="assigned")
    if order.engineer_id == engineer_id:
        raise Conflict("The order is already assigned to this engineer.", field="engineer_id")
    pending = session.scalars(select(DispatchProposal).where(
        DispatchProposal.work_order_id == order.id, DispatchProposal.status == "pending")
        .order_by(DispatchProposal.id.desc()).with_for_update().execution_options(populate_existing=True)).first()
    engineer = repo.get_engineer(session, actor, engineer_id, for_update=True)
    now = utcnow()
    estimate = _estimate(session, order, engineer, now, override=True)
    previous = order.engineer_id if order.status != "proposed" else (pending.engineer_id if pending else None)
    _book(session, actor, order, engineer, estimate, now)
    if pending is not None:
        chosen = pending.engineer_id == engineer.id
        pending.status = "accepted" if chosen else "rejected"
        pending.decided_by_id, pending.decided_at = actor.user_id, now
        pending.decision_note = note if chosen else (note or "changed by the dispatcher")
        _supersede(session, [order.id], keep=pending.id)
    kind = "override" if previous is not None and previous != engineer.id else "assigned"
    add_event(session, order, actor, kind, old=str(previous) if previous else None, new=str(engineer.id),
           body=note or estimate.engineer_name, at=now)
    record(session, actor, f"dispatch.{kind}", "work_order", order.id,
           before={"engineer_id": previous}, after={"engineer_id": engineer.id, "note": note})
    session.flush()
    return order


def candidates(session: Session, actor: Actor, work_order_id: int, limit: int = 10) -> list[Candidate]:
    """Free qualified engineers for the order, least late first, then least travel: the dispatcher's pick list."""
    order = repo.get_work_order(session, actor, work_order_id)
    if not may_read_board(actor):
        raise Forbidden("Only the provider's dispatch staff see candidate engineers.")
    now = utcnow()
    order_in = inputs.order_inputs(session, [order])[0]
    return optimizer.candidates(order_in, inputs.engineer_inputs(session, now), now, travel_model(), limit=limit)


# --- cancelling ----------------------------------------------------------------------------------------------


def cancel(session: Session, actor: Actor, work_order_id: int, reason: str) -> WorkOrder:
    order = repo.get_work_order(session, actor, work_order_id, for_update=True)
    _require_planner(actor)
    if not reason or not reason.strip():
        raise Invalid("Give a reason for cancelling.", field="reason")
    now = utcnow()
    move_order(session, actor, order, "cancelled", now, body=reason)
    order.cancelled_at = now
    order.cancel_reason = reason.strip()
    _supersede(session, [order.id])
    session.flush()
    return order
