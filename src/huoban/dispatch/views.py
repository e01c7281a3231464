"""Read models for the API, the CLI and the pages: work orders with names, proposals with their order's
title and county, plans with their summary. Names only: no engineer's personal data beyond the name."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from huoban.dispatch import repository as repo
from huoban.dispatch.schemas import (
    PlanRead,
    PlanSummary,
    ProposalRead,
    WorkOrderDetail,
    WorkOrderEventRead,
    WorkOrderRead,
)
from huoban.identity.actor import Actor
from huoban.models import (
    DispatchPlan,
    DispatchProposal,
    Engineer,
    Organization,
    Region,
    User,
    WorkOrder,
    WorkOrderEvent,
)


def engineer_names(session: Session, engineer_ids: set[int]) -> dict[int, tuple[str, str]]:
    """engineer id -> (name, organization name)."""
    if not engineer_ids:
        return {}
    rows = session.execute(
        select(Engineer.id, User.display_name, Organization.name)
        .join(User, User.id == Engineer.user_id).join(Organization, Organization.id == Engineer.org_id)
        .where(Engineer.id.in_(engineer_ids)))
    return {eid: (name, org) for eid, name, org in rows}


def _region_names(session: Session, codes: set[str]) -> dict[str, Region]:
    return {r.code: r for r in session.scalars(select(Region).where(Region.code.in_(codes)))} if codes else {}


INTERNAL_KINDS = ("note",)  # dispatchers' notes on proposals: the provider's own business
NOTED_KINDS = ("assigned", "override")  # their bodies carry the dispatcher's note


def visible_events(events: list[WorkOrderEvent], actor: Actor | None) -> list[WorkOrderEventRead]:
    """The timeline as the actor may see it: outside the operator, without dispatchers' notes."""
    out = []
    for event in events:
        read = WorkOrderEventRead.model_validate(event)
        if actor is not None and not actor.is_operator:
            if event.kind in INTERNAL_KINDS:
                continue
            if event.kind in NOTED_KINDS:
                read.body = None
        out.append(read)
    return out


def work_order_detail(session: Session, order: WorkOrder, actor: Actor | None = None) -> WorkOrderDetail:
    region = session.get_one(Region, order.site_region_code)
    customer = session.get_one(Organization, order.customer_org_id)
    engineer = engineer_names(session, {order.engineer_id}).get(order.engineer_id) if order.engineer_id else None
    assigned_org = session.get(Organization, order.assigned_org_id) if order.assigned_org_id else None
    return WorkOrderDetail(
        **WorkOrderRead.model_validate(order).model_dump(),
        site_region_name=region.full_name, customer_name=customer.name,
        engineer_name=engineer[0] if engineer else None,
        assigned_org_name=assigned_org.name if assigned_org else None,
        events=visible_events(repo.work_order_events(session, order), actor),
    )


def ticket_visits(session: Session, actor: Actor, ticket_id: int) -> list[tuple[WorkOrder, str | None]]:
    """The on-site visits of one ticket as the actor may see them (the dispatch scoping: a customer its own
    organization's), with the engineer's name; cancelled ones left out as on /visits."""
    stmt = repo.readable(select(WorkOrder), actor).where(WorkOrder.ticket_id == ticket_id,
                                                         WorkOrder.status != "cancelled")
    orders = list(session.scalars(stmt.order_by(WorkOrder.created_at, WorkOrder.id)))
    names = engineer_names(session, {o.engineer_id for o in orders if o.engineer_id is not None})
    return [(o, names[o.engineer_id][0] if o.engineer_id in names else None) for o in orders]


def proposal_reads(session: Session, proposals: list[DispatchProposal]) -> list[ProposalRead]:
    orders = {o.id: o for o in session.scalars(select(WorkOrder).where(
        WorkOrder.id.in_({p.work_order_id for p in proposals})))} if proposals else {}
    regions = _region_names(session, {o.site_region_code for o in orders.values()})
    names = engineer_names(session, {p.engineer_id for p in proposals if p.engineer_id is not None})
    out = []
    for p in proposals:
        order = orders[p.work_order_id]
        who = names.get(p.engineer_id) if p.engineer_id is not None else None
        region = regions.get(order.site_region_code)
        out.append(ProposalRead(
            id=p.id, plan_id=p.plan_id, work_order_id=p.work_order_id, title=order.title, priority=order.priority,
            county=region.name if region else order.site_region_code, region_code=order.site_region_code,
            engineer_id=p.engineer_id, engineer=who[0] if who else None, organization=who[1] if who else None,
            status=p.status, distance_km=p.distance_km, travel_minutes=p.travel_minutes, arrival_at=p.arrival_at,
            due_at=p.due_at, on_time=p.on_time, late_minutes=(p.explanation or {}).get("late_minutes"),
            explanation=p.explanation or {}, decided_by_id=p.decided_by_id, decided_at=p.decided_at,
            decision_note=p.decision_note, created_at=p.created_at,
        ))
    return out


def plan_read(session: Session, plan: DispatchPlan, proposals: list[DispatchProposal]) -> PlanRead:
    return PlanRead(
        id=plan.id, planned_at=plan.planned_at, created_by_id=plan.created_by_id,
        summary=PlanSummary(
            orders=plan.order_count, engineers=plan.engineer_count, on_time=plan.on_time_count, late=plan.late_count,
            unassigned=plan.unassigned_count, travel_hours=round(plan.travel_minutes / 60, 2), solve_ms=plan.solve_ms,
        ),
        proposals=proposal_reads(session, proposals),
    )


def stored_plan(session: Session, plan: DispatchPlan) -> PlanRead:
    proposals = list(session.scalars(select(DispatchProposal).where(DispatchProposal.plan_id == plan.id)
                                     .order_by(DispatchProposal.id)))
    return plan_read(session, plan, proposals)
