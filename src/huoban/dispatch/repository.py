"""Dispatch queries, scoped to what the actor may see.

Work orders: operators see all; a partner's users see the orders assigned to their partner
(`assigned_org_id`); customer users see their organization's orders (visits). Engineers: operators see
all, a partner's users their partner's engineers, nobody else any. Plans and proposals: operators only.
Everything outside is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, false, func, select, text, update
from sqlalchemy.orm import Session

from huoban.db import is_postgres
from huoban.errors import NotFound
from huoban.identity.actor import Actor
from huoban.models import (
    ACTIVE_ORDER_STATES,
    DispatchPlan,
    DispatchProposal,
    Engineer,
    EngineerAbsence,
    EngineerCertification,
    WorkOrder,
    WorkOrderEvent,
)

OPEN_STATES = ("proposed", *ACTIVE_ORDER_STATES)


def readable(stmt: Select, actor: Actor) -> Select:
    """Work orders the actor may see: operators all, partners those assigned to them, customers their own."""
    if actor.is_operator:
        return stmt
    if actor.is_partner:
        return stmt.where(WorkOrder.assigned_org_id == actor.org_id)
    if actor.is_customer:
        return stmt.where(WorkOrder.customer_org_id == actor.org_id)
    return stmt.where(false())


def readable_engineers(stmt: Select, actor: Actor) -> Select:
    """Engineers the actor may see: operators all, partner users their own partner's, customers none."""
    if actor.is_operator:
        return stmt
    if actor.is_partner:
        return stmt.where(Engineer.org_id == actor.org_id)
    return stmt.where(false())


def lock_row(session: Session, model: type[Engineer] | type[WorkOrder] | type[DispatchProposal], row_id: int) -> None:
    """Take the row's write lock now. PostgreSQL locks with the SELECT ... FOR UPDATE that follows; SQLite
    has one write lock for the whole file, taken by a no-op write, so concurrent deciders serialise."""
    if not is_postgres(session):
        session.execute(text(f"UPDATE {model.__tablename__} SET id = id WHERE id = :id"), {"id": row_id})


def lock_orders(session: Session, *criteria: ColumnElement[bool]) -> list[WorkOrder]:
    """The work orders matching `criteria`, locked in id order: every writer that locks several orders takes
    them in the same order, so two of them wait for each other instead of deadlocking."""
    if not is_postgres(session):
        # SET id = id takes SQLite's write lock; updated_at named so that its onupdate stamps no row
        session.execute(update(WorkOrder).where(*criteria).values(id=WorkOrder.id, updated_at=WorkOrder.updated_at)
                        .execution_options(synchronize_session=False))
    return list(session.scalars(select(WorkOrder).where(*criteria).order_by(WorkOrder.id).with_for_update()
                                .execution_options(populate_existing=True)))


def get_work_order(session: Session, actor: Actor, work_order_id: int, for_update: bool = False) -> WorkOrder:
    if for_update:
        lock_row(session, WorkOrder, work_order_id)
    stmt = readable(select(WorkOrder).where(WorkOrder.id == work_order_id), actor)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    order = session.scalar(stmt)
    if order is None:
        raise NotFound("Work order not found.", field="work_order_id")
    return order


@dataclass
class WorkOrderFilter:
    status: list[str] | None = None
    priority: str | None = None
    customer_org_id: int | None = None
    engineer_id: int | None = None
    assigned_org_id: int | None = None
    ticket_id: int | None = None
    region_code: str | None = None
    open_only: bool = False
    mine: bool = False  # the actor's own orders as an engineer


def region_prefix(code: str) -> str:
    """A province or city code matches every division under it: 370000 -> "37", 370100 -> "3701"."""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def list_work_orders(
    session: Session, actor: Actor, f: WorkOrderFilter | None = None, *, limit: int = 50, offset: int = 0,
    order: str = "urgency",
) -> tuple[list[WorkOrder], int]:
    f = f or WorkOrderFilter()
    stmt = readable(select(WorkOrder), actor)
    if f.status:
        stmt = stmt.where(WorkOrder.status.in_(f.status))
    elif f.open_only:
        stmt = stmt.where(WorkOrder.status.in_(OPEN_STATES))
    if f.priority:
        stmt = stmt.where(WorkOrder.priority == f.priority)
    if f.customer_org_id is not None:
        stmt = stmt.where(WorkOrder.customer_org_id == f.customer_org_id)
    if f.engineer_id is not None:
        stmt = stmt.where(WorkOrder.engineer_id == f.engineer_id)
    if f.assigned_org_id is not None:
        stmt = stmt.where(WorkOrder.assigned_org_id == f.assigned_org_id)
    if f.ticket_id is not None:
        stmt = stmt.where(WorkOrder.ticket_id == f.ticket_id)
    if f.region_code:
        stmt = stmt.where(WorkOrder.site_region_code.startswith(region_prefix(f.region_code)))
    if f.mine:
        stmt = stmt.where(WorkOrder.engineer_id.in_(select(Engineer.id).where(Engineer.user_id == actor.user_id)))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    if order == "urgency":
        stmt = stmt.order_by(WorkOrder.arrival_due_at.is_(None), WorkOrder.arrival_due_at, WorkOrder.priority,
                             WorkOrder.id)
    else:
        stmt = stmt.order_by(WorkOrder.id.desc())
    return list(session.scalars(stmt.limit(limit).offset(offset))), total


def work_order_events(session: Session, order: WorkOrder) -> list[WorkOrderEvent]:
    return list(session.scalars(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == order.id)
                                .order_by(WorkOrderEvent.at, WorkOrderEvent.id)))


def get_engineer(session: Session, actor: Actor, engineer_id: int, for_update: bool = False) -> Engineer:
    if for_update:
        lock_row(session, Engineer, engineer_id)
    stmt = readable_engineers(select(Engineer).where(Engineer.id == engineer_id), actor)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    engineer = session.scalar(stmt)
    if engineer is None:
        raise NotFound("Engineer not found.", field="engineer_id")
    return engineer


def engineer_of_user(session: Session, user_id: int) -> Engineer | None:
    return session.scalar(select(Engineer).where(Engineer.user_id == user_id))


@dataclass
class EngineerFilter:
    org_id: int | None = None
    skill: str | None = None
    region_code: str | None = None  # home base under this province/city/county
    active: bool | None = None


def list_engineers(
    session: Session, actor: Actor, f: EngineerFilter | None = None, *, limit: int = 50, offset: int = 0
) -> tuple[list[Engineer], int]:
    f = f or EngineerFilter()
    stmt = readable_engineers(select(Engineer), actor)
    if f.org_id is not None:
        stmt = stmt.where(Engineer.org_id == f.org_id)
    if f.region_code:
        stmt = stmt.where(Engineer.home_region_code.startswith(region_prefix(f.region_code)))
    if f.active is not None:
        stmt = stmt.where(Engineer.is_active.is_(f.active))
    rows = list(session.scalars(stmt.order_by(Engineer.id)))
    if f.skill:  # skills are a JSON list: filter in Python, the same on SQLite and PostgreSQL
        rows = [e for e in rows if f.skill in (e.skills or [])]
    return rows[offset: offset + limit], len(rows)


def certifications(session: Session, engineer_ids: list[int]) -> dict[int, list[EngineerCertification]]:
    out: dict[int, list[EngineerCertification]] = {i: [] for i in engineer_ids}
    if engineer_ids:
        for cert in session.scalars(select(EngineerCertification).where(
                EngineerCertification.engineer_id.in_(engineer_ids)).order_by(EngineerCertification.id)):
            out[cert.engineer_id].append(cert)
    return out


def absences(session: Session, engineer_ids: list[int], after: datetime) -> dict[int, list[EngineerAbsence]]:
    """Absences that end after `after`, by engineer, in time order."""
    out: dict[int, list[EngineerAbsence]] = {i: [] for i in engineer_ids}
    if engineer_ids:
        for absence in session.scalars(select(EngineerAbsence).where(
                EngineerAbsence.engineer_id.in_(engineer_ids), EngineerAbsence.ends_at > after)
                .order_by(EngineerAbsence.starts_at, EngineerAbsence.id)):
            out[absence.engineer_id].append(absence)
    return out


def active_orders(session: Session, engineer_ids: list[int] | None = None) -> dict[int, list[WorkOrder]]:
    """engineer id -> the active orders the engineer holds (assigned to travelling and on site), soonest first."""
    stmt = select(WorkOrder).where(WorkOrder.status.in_(ACTIVE_ORDER_STATES), WorkOrder.engineer_id.is_not(None))
    if engineer_ids is not None:
        stmt = stmt.where(WorkOrder.engineer_id.in_(engineer_ids))
    out: dict[int, list[WorkOrder]] = {}
    for order in session.scalars(stmt.order_by(WorkOrder.planned_arrival_at, WorkOrder.id)):
        if order.engineer_id is not None:
            out.setdefault(order.engineer_id, []).append(order)
    return out


def get_plan(session: Session, actor: Actor, plan_id: int) -> DispatchPlan:
    plan = session.get(DispatchPlan, plan_id) if actor.is_operator else None
    if plan is None:
        raise NotFound("Dispatch plan not found.", field="plan_id")
    return plan


def get_proposal(session: Session, actor: Actor, proposal_id: int, for_update: bool = False) -> DispatchProposal:
    if not actor.is_operator:
        raise NotFound("Proposal not found.", field="proposal_id")
    if for_update:
        lock_row(session, DispatchProposal, proposal_id)
    stmt = select(DispatchProposal).where(DispatchProposal.id == proposal_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    proposal = session.scalar(stmt)
    if proposal is None:
        raise NotFound("Proposal not found.", field="proposal_id")
    return proposal


def list_proposals(
    session: Session, actor: Actor, *, status: str | None = None, plan_id: int | None = None,
    work_order_id: int | None = None, limit: int = 100, offset: int = 0,
) -> tuple[list[DispatchProposal], int]:
    if not actor.is_operator:
        return [], 0
    stmt = select(DispatchProposal)
    if status:
        stmt = stmt.where(DispatchProposal.status == status)
    if plan_id is not None:
        stmt = stmt.where(DispatchProposal.plan_id == plan_id)
    if work_order_id is not None:
        stmt = stmt.where(DispatchProposal.work_order_id == work_order_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    stmt = stmt.order_by(DispatchProposal.due_at.is_(None), DispatchProposal.due_at, DispatchProposal.id)
    return list(session.scalars(stmt.limit(limit).offset(offset))), total
