"""JSON API for engagements: open, list, read, change, move along the stages; consultations; reports."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from huoban.api import IdemKey, Limit, Offset, Page, idempotent
from huoban.deps import ApiActor, DbSession
from huoban.engagements import reports, service
from huoban.engagements.repository import get_engagement
from huoban.engagements.schemas import (
    ConsultationCreate,
    ConsultationInternalRead,
    ConsultationRead,
    EffortGroup,
    EffortReport,
    EngagementCreate,
    EngagementDetail,
    EngagementEventRead,
    EngagementRead,
    EngagementUpdate,
    MemberRead,
    NoteCreate,
    ParticipantInternalRead,
    Stage,
    StageAgeReport,
    StageIn,
)
from huoban.identity.actor import Actor
from huoban.models import Consultation, ConsultationParticipant, Engagement

router = APIRouter(tags=["engagements"])
BASE = "/engagements"


def engagement_read(actor: Actor, engagement: Engagement) -> EngagementRead:
    """An engagement as the caller may read it: the provider's reason for losing it is internal."""
    read = EngagementRead.model_validate(engagement)
    if not actor.is_operator:
        read.lost_reason = None
    return read


def detail(session: Session, actor: Actor, engagement: Engagement) -> EngagementDetail:
    """With the presales team for the provider only (customers get `members: null`) and the timeline the caller
    may read."""
    return EngagementDetail(
        **engagement_read(actor, engagement).model_dump(),
        members=[MemberRead.model_validate(m) for m in service.members(session, engagement)]
        if actor.is_operator else None,
        events=[EngagementEventRead.model_validate(e) for e in service.events(session, actor, engagement)],
    )


def consultation_view(consultation: Consultation, people: list[ConsultationParticipant]) -> ConsultationInternalRead:
    """Consultations are the provider's record (customers and partners get 404): each person's effort included."""
    base = {k: getattr(consultation, k) for k in ConsultationRead.model_fields if k != "participants"}
    return ConsultationInternalRead(**base, participants=[ParticipantInternalRead.model_validate(p) for p in people],
                                    effort_minutes=sum(p.effort_minutes for p in people))


# Reports first, so that /engagements/reports/... is not read as an engagement id.


@router.get(f"{BASE}/reports/effort", response_model=EffortReport)
def effort_report(session: DbSession, actor: ApiActor, group_by: EffortGroup = "person",
                  since: date | None = None, until: date | None = None) -> EffortReport:
    """Pre-sales effort (provider and partner people on consultations), including engagements still open."""
    return reports.effort_report(session, actor, group_by, since, until)


@router.get(f"{BASE}/reports/stage-age", response_model=StageAgeReport)
def stage_age_report(session: DbSession, actor: ApiActor) -> StageAgeReport:
    """Days each open engagement has spent in its stage and in all, and average days per stage."""
    return reports.stage_age_report(session, actor)


@router.post(BASE, status_code=201, response_model=EngagementDetail)
def create_engagement(session: DbSession, actor: ApiActor, data: EngagementCreate, key: IdemKey = None
                      ) -> JSONResponse:
    """Open an engagement (sales staff for a customer; a customer's user for its own organization)."""
    return idempotent(session, actor, key, data,
                      lambda: detail(session, actor, service.create_engagement(session, actor, data)))


@router.get(BASE, response_model=Page[EngagementRead])
def list_engagements(
    session: DbSession, actor: ApiActor, limit: Limit = 50, offset: Offset = 0,
    stage: Annotated[list[Stage] | None, Query()] = None, customer_org_id: int | None = None,
    owner_id: int | None = None, q: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[EngagementRead]:
    """Engagements the caller may see, newest first; `q` searches title and goal."""
    f = service.EngagementFilter(list(stage) if stage else None, customer_org_id, owner_id, q)
    rows, total = service.list_engagements(session, actor, f, limit=limit, offset=offset)
    return Page(items=[engagement_read(actor, e) for e in rows], total=total, limit=limit, offset=offset)


@router.get(f"{BASE}/{{engagement_id}}", response_model=EngagementDetail)
def get_engagement_detail(session: DbSession, actor: ApiActor, engagement_id: int) -> EngagementDetail:
    """With the presales team (provider only) and the timeline (customers see no internal events)."""
    return detail(session, actor, get_engagement(session, actor, engagement_id))


@router.patch(f"{BASE}/{{engagement_id}}", response_model=EngagementDetail)
def update_engagement(session: DbSession, actor: ApiActor, engagement_id: int, data: EngagementUpdate
                      ) -> EngagementDetail:
    return detail(session, actor, service.update_engagement(session, actor, engagement_id, data))


@router.post(f"{BASE}/{{engagement_id}}/stage", response_model=EngagementDetail)
def change_stage(session: DbSession, actor: ApiActor, engagement_id: int, data: StageIn) -> EngagementDetail:
    """inquiry → consulting → proposal → bidding → won → delivering → accepted → closed; lost (with a reason)
    from any stage before won; closed from lost or accepted; reopen lost → inquiry."""
    return detail(session, actor, service.change_stage(session, actor, engagement_id, data))


@router.post(f"{BASE}/{{engagement_id}}/notes", status_code=201, response_model=EngagementEventRead)
def add_note(session: DbSession, actor: ApiActor, engagement_id: int, data: NoteCreate, key: IdemKey = None
             ) -> JSONResponse:
    """An internal note on the timeline (the provider's sales staff); customers never see it."""
    return idempotent(session, actor, key, {"engagement": engagement_id, **data.model_dump()},
                      lambda: EngagementEventRead.model_validate(
                          service.add_note(session, actor, engagement_id, data.body)))


@router.post(f"{BASE}/{{engagement_id}}/consultations", status_code=201, response_model=ConsultationInternalRead)
def add_consultation(session: DbSession, actor: ApiActor, engagement_id: int, data: ConsultationCreate,
                     key: IdemKey = None) -> JSONResponse:
    """Record a meeting, call, site visit or workshop with each person's effort (provider and partner only)."""
    def write() -> ConsultationInternalRead:
        consultation = service.add_consultation(session, actor, engagement_id, data)
        return consultation_view(consultation, service.participants(session, [consultation.id])[consultation.id])

    return idempotent(session, actor, key, {"engagement": engagement_id, **data.model_dump()}, write)


@router.get(f"{BASE}/{{engagement_id}}/consultations", response_model=Page[ConsultationInternalRead])
def list_consultations(session: DbSession, actor: ApiActor, engagement_id: int, limit: Limit = 50,
                       offset: Offset = 0) -> Page[ConsultationInternalRead]:
    """Newest first; the provider's internal record (customers and partners get 404)."""
    rows, total = service.list_consultations(session, actor, engagement_id, limit=limit, offset=offset)
    people = service.participants(session, [c.id for c in rows])
    return Page(items=[consultation_view(c, people[c.id]) for c in rows], total=total, limit=limit, offset=offset)


@router.get(f"{BASE}/{{engagement_id}}/consultations/{{consultation_id}}", response_model=ConsultationInternalRead)
def get_consultation(session: DbSession, actor: ApiActor, engagement_id: int, consultation_id: int
                     ) -> ConsultationInternalRead:
    """The provider's internal record (customers and partners get 404)."""
    consultation = service.get_consultation(session, actor, engagement_id, consultation_id)
    return consultation_view(consultation, service.participants(session, [consultation.id])[consultation.id])
