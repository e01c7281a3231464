"""JSON API for dispatch: engineers, work orders and their steps, plans and proposals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import JSONResponse

from huoban.api import IdemKey, Limit, Offset, Page, idempotent
from huoban.deps import ApiActor, DbSession
from huoban.dispatch import engineers, field, orders, service, views
from huoban.dispatch import repository as repo
from huoban.dispatch.schemas import (
    MAX_ID,
    AbsenceIn,
    AbsenceRead,
    AssignIn,
    CancelIn,
    CandidateRead,
    CertificationIn,
    CertificationRead,
    CheckOutIn,
    ConfirmIn,
    EngineerCreate,
    EngineerRead,
    EngineerUpdate,
    OrderStatus,
    PlanRead,
    Priority,
    ProposalRead,
    ProposalStatus,
    RejectIn,
    Skill,
    WorkOrderCreate,
    WorkOrderDetail,
    WorkOrderRead,
)
from huoban.errors import Forbidden

router = APIRouter(prefix="/dispatch", tags=["dispatch"])
Code = Annotated[str | None, Query(pattern=r"^\d{6}$")]
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]


# --- engineers ---------------------------------------------------------------------------------------------


@router.post("/engineers", status_code=201, response_model=EngineerRead)
def create_engineer(session: DbSession, actor: ApiActor, data: EngineerCreate, key: IdemKey = None) -> JSONResponse:
    """Make a user of the operator or of a partner an engineer (partner admins: their own partner's users)."""
    return idempotent(session, actor, key, data, lambda: engineers.engineer_reads(
        session, [engineers.create_engineer(session, actor, data)])[0])


@router.get("/engineers", response_model=Page[EngineerRead])
def list_engineers(
    session: DbSession, actor: ApiActor, limit: Limit = 50, offset: Offset = 0, org_id: IdQuery = None,
    skill: Skill | None = None, region_code: Code = None, active: bool | None = None,
) -> Page[EngineerRead]:
    """Engineers the caller may see; `region_code` (province, city or county) filters by home base."""
    rows, total = repo.list_engineers(session, actor, repo.EngineerFilter(org_id, skill, region_code, active),
                                      limit=limit, offset=offset)
    return Page(items=engineers.engineer_reads(session, rows), total=total, limit=limit, offset=offset)


@router.get("/engineers/{engineer_id}", response_model=EngineerRead)
def get_engineer(session: DbSession, actor: ApiActor, engineer_id: RowId) -> EngineerRead:
    return engineers.engineer_reads(session, [repo.get_engineer(session, actor, engineer_id)])[0]


@router.patch("/engineers/{engineer_id}", response_model=EngineerRead)
def update_engineer(session: DbSession, actor: ApiActor, engineer_id: RowId, data: EngineerUpdate) -> EngineerRead:
    return engineers.engineer_reads(session, [engineers.update_engineer(session, actor, engineer_id, data)])[0]


@router.post("/engineers/{engineer_id}/certifications", status_code=201, response_model=CertificationRead)
def add_certification(session: DbSession, actor: ApiActor, engineer_id: RowId, data: CertificationIn,
                      key: IdemKey = None) -> JSONResponse:
    payload = {"certification_for": engineer_id, **data.model_dump()}
    return idempotent(session, actor, key, payload, lambda: CertificationRead.model_validate(
        engineers.add_certification(session, actor, engineer_id, data)))


@router.delete("/engineers/{engineer_id}/certifications/{certification_id}", status_code=204)
def remove_certification(session: DbSession, actor: ApiActor, engineer_id: RowId, certification_id: RowId) -> Response:
    engineers.remove_certification(session, actor, engineer_id, certification_id)
    return Response(status_code=204)


@router.post("/engineers/{engineer_id}/absences", status_code=201, response_model=AbsenceRead)
def add_absence(session: DbSession, actor: ApiActor, engineer_id: RowId, data: AbsenceIn, key: IdemKey = None
                ) -> JSONResponse:
    """Leave, training or an outside booking: the engineer is not dispatched in [starts_at, ends_at)."""
    payload = {"absence_for": engineer_id, **data.model_dump()}
    return idempotent(session, actor, key, payload, lambda: AbsenceRead.model_validate(
        engineers.add_absence(session, actor, engineer_id, data)))


@router.delete("/engineers/{engineer_id}/absences/{absence_id}", status_code=204)
def remove_absence(session: DbSession, actor: ApiActor, engineer_id: RowId, absence_id: RowId) -> Response:
    engineers.remove_absence(session, actor, engineer_id, absence_id)
    return Response(status_code=204)


# --- work orders -------------------------------------------------------------------------------------------


@router.post("/work-orders", status_code=201, response_model=WorkOrderDetail)
def create_work_order(session: DbSession, actor: ApiActor, data: WorkOrderCreate, key: IdemKey = None
                      ) -> JSONResponse:
    """From a ticket that needs a visit (`ticket_id`), or a planned visit for a customer's site."""
    return idempotent(session, actor, key, data, lambda: views.work_order_detail(
        session, orders.create_work_order(session, actor, data)))


@router.get("/work-orders", response_model=Page[WorkOrderRead])
def list_work_orders(
    session: DbSession, actor: ApiActor, limit: Limit = 50, offset: Offset = 0,
    status: Annotated[list[OrderStatus] | None, Query()] = None, priority: Priority | None = None,
    customer_org_id: IdQuery = None, engineer_id: IdQuery = None, assigned_org_id: IdQuery = None,
    ticket_id: IdQuery = None, region_code: Code = None, open_only: bool = False,
    mine: Annotated[bool, Query(description="Only the caller's own orders as an engineer")] = False,
    order: Annotated[str, Query(pattern="^(urgency|newest)$")] = "urgency",
) -> Page[WorkOrderRead]:
    """Work orders the caller may see, most urgent (earliest arrival due) first."""
    f = repo.WorkOrderFilter(list(status) if status else None, priority, customer_org_id, engineer_id,
                             assigned_org_id, ticket_id, region_code, open_only, mine)
    rows, total = repo.list_work_orders(session, actor, f, limit=limit, offset=offset, order=order)
    return Page(items=[WorkOrderRead.model_validate(o) for o in rows], total=total, limit=limit, offset=offset)


@router.get("/work-orders/{work_order_id}", response_model=WorkOrderDetail)
def get_work_order(session: DbSession, actor: ApiActor, work_order_id: RowId) -> WorkOrderDetail:
    """Reads only: a ticket change reaches its orders when it happens (`service.refresh_for_tickets`)."""
    return views.work_order_detail(session, repo.get_work_order(session, actor, work_order_id), actor)


@router.get("/work-orders/{work_order_id}/candidates", response_model=list[CandidateRead])
def candidates(session: DbSession, actor: ApiActor, work_order_id: RowId,
               limit: Annotated[int, Query(ge=1, le=50)] = 10) -> list[CandidateRead]:
    """Free qualified engineers, least late first, then least travel: the pick list for a change."""
    return [CandidateRead.model_validate(c) for c in service.candidates(session, actor, work_order_id, limit)]


@router.post("/work-orders/{work_order_id}/assign", response_model=WorkOrderDetail)
def assign(session: DbSession, actor: ApiActor, work_order_id: RowId, data: AssignIn) -> WorkOrderDetail:
    """The dispatcher picks the engineer (instead of the proposal, or to reassign before travel)."""
    order = service.assign(session, actor, work_order_id, data.engineer_id, data.note)
    return views.work_order_detail(session, order, actor)


@router.post("/work-orders/{work_order_id}/accept", response_model=WorkOrderDetail)
def engineer_accept(session: DbSession, actor: ApiActor, work_order_id: RowId) -> WorkOrderDetail:
    return views.work_order_detail(session, field.engineer_accept(session, actor, work_order_id), actor)


@router.post("/work-orders/{work_order_id}/start-travel", response_model=WorkOrderDetail)
def start_travel(session: DbSession, actor: ApiActor, work_order_id: RowId) -> WorkOrderDetail:
    return views.work_order_detail(session, field.start_travel(session, actor, work_order_id), actor)


@router.post("/work-orders/{work_order_id}/check-in", response_model=WorkOrderDetail)
def check_in(session: DbSession, actor: ApiActor, work_order_id: RowId) -> WorkOrderDetail:
    """The engineer is on site: meets the ticket's on-site clock."""
    return views.work_order_detail(session, field.check_in(session, actor, work_order_id), actor)


@router.post("/work-orders/{work_order_id}/check-out", response_model=WorkOrderDetail)
def check_out(session: DbSession, actor: ApiActor, work_order_id: RowId, data: CheckOutIn) -> WorkOrderDetail:
    return views.work_order_detail(session, field.check_out(session, actor, work_order_id, data.notes), actor)


@router.post("/work-orders/{work_order_id}/confirm", response_model=WorkOrderDetail)
def confirm(session: DbSession, actor: ApiActor, work_order_id: RowId, data: ConfirmIn) -> WorkOrderDetail:
    """The customer confirms a done visit with a rating 1-5."""
    order = field.confirm_visit(session, actor, work_order_id, data.rating, data.comment)
    return views.work_order_detail(session, order, actor)


@router.post("/work-orders/{work_order_id}/cancel", response_model=WorkOrderDetail)
def cancel(session: DbSession, actor: ApiActor, work_order_id: RowId, data: CancelIn) -> WorkOrderDetail:
    return views.work_order_detail(session, service.cancel(session, actor, work_order_id, data.reason), actor)


# --- plans and proposals -----------------------------------------------------------------------------------


@router.post("/plans", status_code=201, response_model=PlanRead)
def run_plan(session: DbSession, actor: ApiActor,
             dry_run: Annotated[bool, Query(description="Compute only; store nothing")] = False,
             key: IdemKey = None) -> JSONResponse:
    """Run a dispatch round over the open orders and the free engineers; returns the plan with its proposals.
    A retry with the same Idempotency-Key returns the first plan and runs no new round."""

    def write() -> PlanRead:
        outcome = service.compute_plan(session, actor, refresh=not dry_run)
        if not dry_run:
            service.persist_plan(session, actor, outcome)
        return views.plan_read(session, outcome.plan, outcome.proposals)

    return idempotent(session, actor, key, {"plan": True, "dry_run": dry_run}, write)


@router.get("/plans/{plan_id}", response_model=PlanRead)
def get_plan(session: DbSession, actor: ApiActor, plan_id: RowId) -> PlanRead:
    return views.stored_plan(session, repo.get_plan(session, actor, plan_id))


@router.get("/proposals", response_model=Page[ProposalRead])
def list_proposals(
    session: DbSession, actor: ApiActor, limit: Limit = 100, offset: Offset = 0,
    status: ProposalStatus | None = None, plan_id: IdQuery = None, work_order_id: IdQuery = None,
) -> Page[ProposalRead]:
    """Proposals for the dispatcher's board, earliest due first (`status=pending` for those waiting)."""
    if not actor.is_operator:
        raise Forbidden("Only the provider's dispatch staff see proposals.")
    rows, total = repo.list_proposals(session, actor, status=status, plan_id=plan_id, work_order_id=work_order_id,
                                      limit=limit, offset=offset)
    return Page(items=views.proposal_reads(session, rows), total=total, limit=limit, offset=offset)


@router.post("/proposals/{proposal_id}/accept", response_model=WorkOrderDetail)
def accept_proposal(session: DbSession, actor: ApiActor, proposal_id: RowId) -> WorkOrderDetail:
    """Assign the proposed engineer (409 naming engineer_id if the engineer was taken meanwhile)."""
    return views.work_order_detail(session, service.accept_proposal(session, actor, proposal_id), actor)


@router.post("/proposals/{proposal_id}/reject", response_model=ProposalRead)
def reject_proposal(session: DbSession, actor: ApiActor, proposal_id: RowId, data: RejectIn) -> ProposalRead:
    return views.proposal_reads(session, [service.reject_proposal(session, actor, proposal_id, data.note)])[0]
