"""JSON API for requirement versions, their diff and sign-off, change orders, deliverables and scores.

Versions are never edited: there is no PATCH/PUT/DELETE on a version or an item, by design, and the
database refuses such changes too (triggers of migration 0005)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, UploadFile
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from huoban.api import IdemKey, idempotent
from huoban.deps import ApiActor, DbSession
from huoban.engagements import excel, requirements
from huoban.engagements.repository import get_engagement
from huoban.engagements.requirements_schemas import (
    ChangeOrderCreate,
    ChangeOrderRead,
    DecisionIn,
    DeliverableCreate,
    DeliverableRead,
    DiffRead,
    GradeIn,
    ReturnIn,
    ScoreRow,
    VersionCreate,
    VersionDetail,
    VersionRead,
)
from huoban.engagements.views import export_response
from huoban.errors import Invalid, NotFound
from huoban.models import Engagement, RequirementVersion

router = APIRouter(tags=["requirements"])
Number = Annotated[int, Query(ge=1, le=1_000_000)]


def version_read(session: Session, engagement: Engagement, version: RequirementVersion) -> VersionRead:
    current = requirements.current_version(session, engagement)
    return VersionRead.model_validate(version).model_copy(
        update={"is_current": current is not None and current.id == version.id})


def version_detail(session: Session, engagement: Engagement, version: RequirementVersion) -> VersionDetail:
    return VersionDetail(**version_read(session, engagement, version).model_dump(),
                         items=requirements.items(session, version))


@router.get("/engagements/scores", response_model=list[ScoreRow])
def scores(session: DbSession, actor: ApiActor,
           by: Literal["engagement", "provider", "customer"] = "engagement") -> list[ScoreRow]:
    """Average deliverable scores and counts (operators), by engagement, delivering organization or customer."""
    return requirements.scores(session, actor, by)


@router.post("/engagements/{engagement_id}/requirements", status_code=201, response_model=VersionDetail)
def propose(session: DbSession, actor: ApiActor, engagement_id: int, data: VersionCreate,
            key: IdemKey = None) -> JSONResponse:
    """The next version with the full item set (status submitted). After winning, use change orders."""
    def write() -> VersionDetail:
        version = requirements.propose_version(session, actor, engagement_id, data.items, data.note)
        return version_detail(session, get_engagement(session, actor, engagement_id), version)
    return idempotent(session, actor, key, {"engagement": engagement_id, **data.model_dump()}, write)


@router.get("/engagements/{engagement_id}/requirements", response_model=list[VersionRead])
def list_versions(session: DbSession, actor: ApiActor, engagement_id: int) -> list[VersionRead]:
    engagement = get_engagement(session, actor, engagement_id)
    return [version_read(session, engagement, v) for v in requirements.versions(session, engagement)]


@router.get("/engagements/{engagement_id}/requirements/current", response_model=VersionDetail)
def current(session: DbSession, actor: ApiActor, engagement_id: int) -> VersionDetail:
    """The version in force: the latest signed one (404 while none is signed)."""
    engagement = get_engagement(session, actor, engagement_id)
    version = requirements.current_version(session, engagement)
    if version is None:
        raise NotFound("No requirement version is signed yet.", field="version")
    return version_detail(session, engagement, version)


@router.get("/engagements/{engagement_id}/requirements/diff", response_model=DiffRead)
def diff(session: DbSession, actor: ApiActor, engagement_id: int,
         from_: Annotated[int, Query(alias="from", ge=1, le=1_000_000)], to: Number) -> DiffRead:
    engagement = get_engagement(session, actor, engagement_id)
    return DiffRead(**requirements.diff(session, engagement, from_, to))


@router.post("/engagements/{engagement_id}/requirements/import", status_code=201, response_model=VersionDetail)
def import_version(session: DbSession, actor: ApiActor, engagement_id: int, file: UploadFile,
                   note: Annotated[str | None, Form(max_length=5000)] = None, key: IdemKey = None) -> JSONResponse:
    """A new version from an .xlsx (≤ 1 MB); a bad row refuses the whole file with every row and field named."""
    data = file.file.read(excel.MAX_BYTES + 1)
    if len(data) > excel.MAX_BYTES:
        raise Invalid("The file is larger than 1 MB.", field="file")
    payload = {"engagement": engagement_id, "sha256": hashlib.sha256(data).hexdigest(), "note": note}

    def write() -> VersionDetail:
        engagement = get_engagement(session, actor, engagement_id)
        requirements.may_propose(actor, engagement)
        items = excel.read_items(data, requirements.owner_directory(session, engagement))
        version = requirements.propose_version(session, actor, engagement_id, items, note or "Imported from Excel")
        return version_detail(session, engagement, version)
    return idempotent(session, actor, key, payload, write)


@router.get("/engagements/{engagement_id}/requirements/{number}", response_model=VersionDetail)
def get_version(session: DbSession, actor: ApiActor, engagement_id: int, number: int) -> VersionDetail:
    engagement = get_engagement(session, actor, engagement_id)
    return version_detail(session, engagement, requirements.get_version(session, engagement, number))


@router.get("/engagements/{engagement_id}/requirements/{number}/export.xlsx")
def export_version(session: DbSession, actor: ApiActor, engagement_id: int, number: int) -> Response:
    return export_response(session, get_engagement(session, actor, engagement_id), number)


@router.post("/engagements/{engagement_id}/requirements/{number}/sign", response_model=VersionRead)
def sign(session: DbSession, actor: ApiActor, engagement_id: int, number: int, data: DecisionIn) -> VersionRead:
    """The customer_admin signs off the latest submitted version."""
    version = requirements.sign(session, actor, engagement_id, number, data.comment)
    return version_read(session, get_engagement(session, actor, engagement_id), version)


@router.post("/engagements/{engagement_id}/requirements/{number}/return", response_model=VersionRead)
def return_version(session: DbSession, actor: ApiActor, engagement_id: int, number: int,
                   data: ReturnIn) -> VersionRead:
    """The customer_admin returns the latest submitted version with comments."""
    version = requirements.return_version(session, actor, engagement_id, number, data.comment)
    return version_read(session, get_engagement(session, actor, engagement_id), version)


@router.post("/engagements/{engagement_id}/change-orders", status_code=201, response_model=ChangeOrderRead)
def propose_change(session: DbSession, actor: ApiActor, engagement_id: int, data: ChangeOrderCreate,
                   key: IdemKey = None) -> JSONResponse:
    """A change to the signed version of a won engagement: a version with status proposed-change and a
    pending change order; nothing takes effect until the customer_admin approves."""
    return idempotent(session, actor, key, {"engagement": engagement_id, **data.model_dump()},
                      lambda: ChangeOrderRead.model_validate(
                          requirements.propose_change(session, actor, engagement_id, data)))


@router.get("/engagements/{engagement_id}/change-orders", response_model=list[ChangeOrderRead])
def list_change_orders(session: DbSession, actor: ApiActor, engagement_id: int) -> list[ChangeOrderRead]:
    engagement = get_engagement(session, actor, engagement_id)
    return [ChangeOrderRead.model_validate(c) for c in requirements.change_orders(session, engagement)]


@router.post("/engagements/{engagement_id}/change-orders/{order_id}/approve", response_model=ChangeOrderRead)
def approve_change(session: DbSession, actor: ApiActor, engagement_id: int, order_id: int,
                   data: DecisionIn) -> ChangeOrderRead:
    return ChangeOrderRead.model_validate(
        requirements.decide_change(session, actor, engagement_id, order_id, True, data.comment))


@router.post("/engagements/{engagement_id}/change-orders/{order_id}/reject", response_model=ChangeOrderRead)
def reject_change(session: DbSession, actor: ApiActor, engagement_id: int, order_id: int,
                  data: DecisionIn) -> ChangeOrderRead:
    return ChangeOrderRead.model_validate(
        requirements.decide_change(session, actor, engagement_id, order_id, False, data.comment))


@router.post("/engagements/{engagement_id}/deliverables", status_code=201, response_model=DeliverableRead)
def create_deliverable(session: DbSession, actor: ApiActor, engagement_id: int,
                       data: DeliverableCreate) -> DeliverableRead:
    return DeliverableRead.model_validate(requirements.create_deliverable(session, actor, engagement_id, data))


@router.get("/engagements/{engagement_id}/deliverables", response_model=list[DeliverableRead])
def list_deliverables(session: DbSession, actor: ApiActor, engagement_id: int) -> list[DeliverableRead]:
    engagement = get_engagement(session, actor, engagement_id)
    return [DeliverableRead.model_validate(d) for d in requirements.deliverables(session, engagement)]


@router.post("/engagements/{engagement_id}/deliverables/{deliverable_id}/submit", response_model=DeliverableRead)
def submit_deliverable(session: DbSession, actor: ApiActor, engagement_id: int,
                       deliverable_id: int) -> DeliverableRead:
    return DeliverableRead.model_validate(
        requirements.submit_deliverable(session, actor, engagement_id, deliverable_id))


@router.post("/engagements/{engagement_id}/deliverables/{deliverable_id}/accept", response_model=DeliverableRead)
def accept_deliverable(session: DbSession, actor: ApiActor, engagement_id: int, deliverable_id: int,
                       data: GradeIn) -> DeliverableRead:
    return DeliverableRead.model_validate(
        requirements.grade_deliverable(session, actor, engagement_id, deliverable_id, True, data))


@router.post("/engagements/{engagement_id}/deliverables/{deliverable_id}/reject", response_model=DeliverableRead)
def reject_deliverable(session: DbSession, actor: ApiActor, engagement_id: int, deliverable_id: int,
                       data: GradeIn) -> DeliverableRead:
    return DeliverableRead.model_validate(
        requirements.grade_deliverable(session, actor, engagement_id, deliverable_id, False, data))
