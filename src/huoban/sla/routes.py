"""JSON API for working calendars (with a year's holiday import, also from Excel) and SLA policies."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Query, UploadFile
from fastapi.responses import JSONResponse, Response

from huoban.api import IdemKey, Limit, Offset, Page, idempotent
from huoban.deps import ApiActor, DbSession
from huoban.models import Calendar, SlaPolicy, utcnow
from huoban.sla import excel, service
from huoban.sla.schemas import (
    CalendarCreate,
    CalendarDetail,
    CalendarRead,
    CalendarUpdate,
    PolicyCreate,
    PolicyRead,
    PolicyUpdate,
    YearImport,
)

router = APIRouter(prefix="/sla", tags=["sla"])

Year = Annotated[int, Query(ge=1900, le=2200, description="The year the sheet holds")]


def calendar_read(row: Calendar) -> CalendarRead:
    return CalendarRead(id=row.id, name=row.name, description=row.description, builtin=row.builtin,
                        version=row.version, created_at=row.created_at, updated_at=row.updated_at,
                        **service.summary(row.definition))


def calendar_detail(row: Calendar, recomputed: int | None = None) -> CalendarDetail:
    return CalendarDetail(**calendar_read(row).model_dump(), definition=row.definition, recomputed_clocks=recomputed)


def policy_read(row: SlaPolicy, recomputed: int | None = None) -> PolicyRead:
    return PolicyRead.model_validate(row).model_copy(update={"recomputed_clocks": recomputed})


# --- calendars -------------------------------------------------------------------------------------------------


@router.get("/calendars", response_model=Page[CalendarRead])
def list_calendars(session: DbSession, actor: ApiActor, limit: Limit = 50, offset: Offset = 0) -> Page[CalendarRead]:
    rows, total = service.list_calendars(session, actor, limit, offset)
    return Page(items=[calendar_read(r) for r in rows], total=total, limit=limit, offset=offset)


@router.post("/calendars", response_model=CalendarDetail, status_code=201)
def create_calendar(session: DbSession, actor: ApiActor, data: CalendarCreate, key: IdemKey = None) -> JSONResponse:
    """A calendar in the JSON form: timezone, week (several intervals a day), holidays, dated overrides."""
    return idempotent(session, actor, key, data,
                      lambda: calendar_detail(service.create_calendar(session, actor, data)))


@router.get("/calendars/{calendar_id}", response_model=CalendarDetail)
def get_calendar(session: DbSession, actor: ApiActor, calendar_id: int) -> CalendarDetail:
    return calendar_detail(service.get_calendar(session, actor, calendar_id))


@router.patch("/calendars/{calendar_id}", response_model=CalendarDetail)
def update_calendar(session: DbSession, actor: ApiActor, calendar_id: int, data: CalendarUpdate) -> CalendarDetail:
    """A new definition (built-ins too) recomputes every open clock on the calendar in the same transaction."""
    return calendar_detail(*service.update_calendar(session, actor, calendar_id, data))


@router.post("/calendars/{calendar_id}/import", response_model=CalendarDetail)
def import_year(
    session: DbSession, actor: ApiActor, calendar_id: int, data: YearImport, key: IdemKey = None
) -> JSONResponse:
    """Replace one year's holidays and overrides, keep other years'; open clocks on the calendar follow."""
    return idempotent(session, actor, key, {"calendar": calendar_id, **data.model_dump()},
                      lambda: calendar_detail(*service.import_year(session, actor, calendar_id, data)),
                      status_code=200)


@router.get("/calendars/{calendar_id}/import-template.xlsx")
def import_template(
    session: DbSession, actor: ApiActor, calendar_id: int, year: Annotated[int | None, Query(ge=1900, le=2200)] = None
) -> Response:
    """A workbook to fill in: the calendar's arrangement of `year` (default: next year), or examples."""
    row = service.get_calendar(session, actor, calendar_id)
    year = year or utcnow().year + 1
    return Response(excel.template(year, row.definition), media_type=excel.XLSX_TYPE, headers={
        "Content-Disposition": f'attachment; filename="calendar-{row.id}-{year}.xlsx"',
        "X-Content-Type-Options": "nosniff",
    })


@router.post("/calendars/{calendar_id}/import-xlsx", response_model=CalendarDetail)
def import_xlsx(
    session: DbSession, actor: ApiActor, calendar_id: int, year: Year, file: UploadFile, key: IdemKey = None
) -> JSONResponse:
    """The same import from an Excel sheet (≤ 1 MB); a bad row anywhere imports nothing (422 listing rows)."""
    data = file.file.read(excel.MAX_BYTES + 1)
    excel.check_upload(data, file.content_type)

    def write() -> CalendarDetail:
        row = service.get_calendar(session, actor, calendar_id)
        return calendar_detail(*service.import_year(session, actor, calendar_id,
                                                    excel.read_year(data, year, row.definition)))

    payload = {"calendar": calendar_id, "year": year, "sha256": hashlib.sha256(data).hexdigest()}
    return idempotent(session, actor, key, payload, write, status_code=200)


# --- policies --------------------------------------------------------------------------------------------------


@router.get("/policies", response_model=Page[PolicyRead])
def list_policies(
    session: DbSession, actor: ApiActor, limit: Limit = 50, offset: Offset = 0, customer_org_id: int | None = None,
) -> Page[PolicyRead]:
    rows, total = service.list_policies(session, actor, customer_org_id=customer_org_id, limit=limit, offset=offset)
    return Page(items=[policy_read(r) for r in rows], total=total, limit=limit, offset=offset)


@router.post("/policies", response_model=PolicyRead, status_code=201)
def create_policy(session: DbSession, actor: ApiActor, data: PolicyCreate, key: IdemKey = None) -> JSONResponse:
    """Targets in working minutes of the policy's calendar per priority and metric; `is_default` replaces the
    customer's (or, without a customer, the global) default."""
    return idempotent(session, actor, key, data, lambda: policy_read(service.create_policy(session, actor, data)))


@router.get("/policies/{policy_id}", response_model=PolicyRead)
def get_policy(session: DbSession, actor: ApiActor, policy_id: int) -> PolicyRead:
    """Operators read any policy; a customer user the default that applies to it."""
    return policy_read(service.get_policy(session, actor, policy_id))


@router.patch("/policies/{policy_id}", response_model=PolicyRead)
def update_policy(session: DbSession, actor: ApiActor, policy_id: int, data: PolicyUpdate) -> PolicyRead:
    """A new calendar, targets or escalation steps recompute the open clocks of the policy's tickets."""
    return policy_read(*service.update_policy(session, actor, policy_id, data))
