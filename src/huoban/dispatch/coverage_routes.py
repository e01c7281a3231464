"""JSON API for coverage: the best arrival per county, and the gaps per customer (also as Excel)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from huoban.deps import ApiActor, DbSession
from huoban.dispatch import coverage
from huoban.dispatch.coverage_excel import XLSX_TYPE, write_gaps
from huoban.dispatch.schemas import MAX_ID

router = APIRouter(tags=["dispatch"])

SkillQuery = Annotated[str | None, Query(max_length=32, description="Engineers must hold this skill, e.g. network")]
CertificationQuery = Annotated[str | None, Query(max_length=64, description="…and this valid certificate, e.g. 电工证")]
TargetQuery = Annotated[int, Query(ge=1, le=coverage.MAX_TARGET_MINUTES, description="Arrival target in minutes")]
ProvinceQuery = Annotated[str | None, Query(pattern=r"^\d{2}(0000)?$", description="Province code, e.g. 37 or 370000")]
CustomerQuery = Annotated[int | None, Query(ge=1, le=MAX_ID,
                                             description="One customer organization (default: all in scope)")]
GapTargetQuery = Annotated[int | None, Query(ge=1, le=coverage.MAX_TARGET_MINUTES,
                                             description="Override the customers' P1 on-site target (minutes)")]


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class CountyCoverageRead(_Read):
    code: str
    name: str
    full_name: str
    province_code: str
    longitude: float
    latitude: float
    best_minutes: int | None
    distance_km: float | None
    engineer_id: int | None
    engineer_name: str | None
    org_id: int | None
    org_name: str | None
    meets: bool


class CountyReportRead(_Read):
    skill: str | None
    certification: str | None
    target_minutes: int
    province: str | None
    engineers: int
    met: int
    unreachable: int
    counties: list[CountyCoverageRead]


class PartnerOptionRead(_Read):
    org_id: int
    name: str
    nearest_minutes: int | None
    engineer_name: str | None
    same_province: bool
    within_target: bool
    has_skills: bool = Field(description="An engineer of the partner holds every skill (and valid certificate) the "
                                         "place needs; the minutes are that engineer's, else its nearest one's")
    missing_skills: list[str] = Field(description="Skills the place needs that none of the partner's engineers holds")
    listed_as: str = Field(description="within_target | nearest | same_province: why the partner is listed")


class GapRead(_Read):
    kind: str
    site_id: int | None
    site_name: str
    region_code: str
    region_name: str
    longitude: float
    latitude: float
    required_skills: list[str]
    best_minutes: int | None
    engineer_name: str | None
    engineer_org_name: str | None
    shortfall_minutes: int | None
    partners: list[PartnerOptionRead]


class PlaceReachRead(_Read):
    kind: str
    site_id: int | None
    site_name: str
    region_code: str
    longitude: float
    latitude: float
    best_minutes: int | None
    meets: bool


class CustomerGapsRead(_Read):
    customer_org_id: int
    customer_name: str
    policy_name: str
    target_minutes: int
    places_checked: int
    gaps: list[GapRead]
    places: list[PlaceReachRead] = Field(description="Every place checked, met or not (sites, then visit counties)")


@router.get("/dispatch/coverage", response_model=CountyReportRead)
def county_coverage(
    session: DbSession, actor: ApiActor, skill: SkillQuery = None, certification: CertificationQuery = None,
    target_minutes: TargetQuery = coverage.DEFAULT_TARGET_MINUTES, province: ProvinceQuery = None,
) -> CountyReportRead:
    """Every county with the fastest arrival of a qualified engineer from home base and whether it meets the
    target. Operators see all engineers, a partner's users their own partner's."""
    report = coverage.county_coverage(session, actor, skill=skill, target_minutes=target_minutes,
                                      province=province, certification=certification)
    return CountyReportRead.model_validate(report)


@router.get("/dispatch/coverage/gaps", response_model=list[CustomerGapsRead])
def coverage_gaps(session: DbSession, actor: ApiActor, customer_org_id: CustomerQuery = None,
                  target_minutes: GapTargetQuery = None) -> list[CustomerGapsRead]:
    """Per customer: its sites (and the counties of its tickets that needed a visit) that no qualified engineer
    reaches within the on-site target, with the partners that could close each gap."""
    report = coverage.coverage_gaps(session, actor, customer_org_id=customer_org_id, target_minutes=target_minutes)
    return [CustomerGapsRead.model_validate(c) for c in report]


@router.get("/dispatch/coverage/gaps.xlsx", response_class=Response,
            responses={200: {"content": {XLSX_TYPE: {}}, "description": "The gaps as an Excel workbook"}})
def coverage_gaps_xlsx(session: DbSession, actor: ApiActor, customer_org_id: CustomerQuery = None,
                       target_minutes: GapTargetQuery = None) -> Response:
    report = coverage.coverage_gaps(session, actor, customer_org_id=customer_org_id, target_minutes=target_minutes)
    name = f"coverage-gaps-{customer_org_id}.xlsx" if customer_org_id else "coverage-gaps.xlsx"
    return Response(write_gaps(report), media_type=XLSX_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
