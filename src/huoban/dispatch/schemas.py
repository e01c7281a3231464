"""API shapes for engineers, work orders, dispatch plans and proposals."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from huoban.identity.schemas import Strict

# The fixed vocabulary of skills an engineer has and a work order needs.
SKILLS = (
    "network", "storage", "database", "server", "power_scada", "security", "cloud", "power", "video", "desktop",
)
Skill = Literal[
    "network", "storage", "database", "server", "power_scada", "security", "cloud", "power", "video", "desktop",
]
Priority = Literal["P1", "P2", "P3", "P4"]
OrderKind = Literal["repair", "maintenance", "installation"]
OrderStatus = Literal["proposed", "assigned", "accepted", "travelling", "on_site", "done", "cancelled"]
ProposalStatus = Literal["pending", "accepted", "rejected", "superseded"]
AbsenceKind = Literal["leave", "training", "booked"]
MAX_ID = 2**31 - 1  # ids beyond the database's integer are unknown: a 422 naming the field, not a database error
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


class CertificationIn(Strict):
    name: str = Field(min_length=1, max_length=64, description="e.g. 电工证, CISP, HCIE")
    number: str | None = Field(None, max_length=64)
    expires_on: date | None = Field(None, description="Empty: does not expire")


class CertificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    number: str | None
    expires_on: date | None


class AbsenceIn(Strict):
    kind: AbsenceKind = "leave"
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: str | None = Field(None, max_length=300)

    @field_validator("ends_at")
    @classmethod
    def _after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("starts_at")
        if start is not None and value <= start:
            raise ValueError("must be after starts_at")
        return value


class AbsenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    starts_at: datetime
    ends_at: datetime
    reason: str | None


class EngineerCreate(Strict):
    user_id: Id
    skills: list[Skill] = Field(default_factory=list, max_length=len(SKILLS))
    home_region_code: str | None = Field(None, pattern=r"^\d{6}$", description="Division code of the home base")
    home_address: str | None = Field(
        None, min_length=2, max_length=300,
        description="Free-text Chinese address; resolved to its county when no home_region_code is given",
    )
    regions_served: list[str] = Field(default_factory=list, max_length=200,
                                      description="Province, city or county codes; empty means anywhere")
    calendar_id: Id | None = Field(None, description="Working calendar; default the built-in 24x7 (on call)")
    max_orders_per_day: int = Field(4, ge=1, le=20)
    certifications: list[CertificationIn] = Field(default_factory=list, max_length=50)
    is_active: bool = True

    @field_validator("skills")
    @classmethod
    def _skills(cls, value: list[str]) -> list[str]:
        return _unique(value)

    @field_validator("regions_served")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        for code in value:
            if not (len(code) == 6 and code.isdigit()):
                raise ValueError("a division code has exactly 6 digits")
        return _unique(value)


class EngineerUpdate(Strict):
    skills: list[Skill] | None = Field(None, max_length=len(SKILLS))
    home_region_code: str | None = Field(None, pattern=r"^\d{6}$")
    home_address: str | None = Field(None, min_length=2, max_length=300)
    regions_served: list[str] | None = Field(None, max_length=200)
    calendar_id: Id | None = None
    max_orders_per_day: int | None = Field(None, ge=1, le=20)
    certifications: list[CertificationIn] | None = Field(None, max_length=50,
                                                         description="Replaces the engineer's certifications")
    is_active: bool | None = None

    @field_validator("skills")
    @classmethod
    def _skills(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _unique(value)

    @field_validator("regions_served")
    @classmethod
    def _regions(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else EngineerCreate._regions(value)


class EngineerRead(BaseModel):
    id: int
    user_id: int
    name: str
    email: str
    phone: str | None
    org_id: int
    org_name: str
    skills: list[str]
    home_region_code: str
    home_region_name: str
    home_address: str | None
    home_longitude: float
    home_latitude: float
    regions_served: list[str]
    calendar_id: int
    max_orders_per_day: int
    is_active: bool
    certifications: list[CertificationRead]
    absences: list[AbsenceRead] = Field(description="Current and coming absences")
    active_work_order_id: int | None = Field(description="The soonest of the engineer's active orders")
    active_work_order_ids: list[int] = Field(description="Every active order, soonest first")
    created_at: datetime
    updated_at: datetime


class WorkOrderCreate(Strict):
    """From a ticket that needs a visit (`ticket_id`), or standalone for planned maintenance
    (`customer_org_id` and a site: `site_id`, `site_region_code` or a free-text `site_address`)."""

    ticket_id: Id | None = None
    customer_org_id: Id | None = None
    site_id: Id | None = None
    site_region_code: str | None = Field(None, pattern=r"^\d{6}$")
    site_address: str | None = Field(None, min_length=2, max_length=300)
    title: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=20000)
    kind: OrderKind | None = None
    priority: Priority | None = None
    required_skills: list[Skill] = Field(default_factory=list, max_length=len(SKILLS))
    required_certification: str | None = Field(None, min_length=1, max_length=64)
    estimated_minutes: int = Field(120, ge=10, le=24 * 60)
    earliest_start_at: AwareDatetime | None = None
    arrival_due_at: AwareDatetime | None = Field(None, description="Standalone orders; a ticket's comes from its "
                                                                   "on-site clock")

    @field_validator("required_skills")
    @classmethod
    def _skills(cls, value: list[str]) -> list[str]:
        return _unique(value)


class AssignIn(Strict):
    engineer_id: Id
    note: str | None = Field(None, max_length=300)


class RejectIn(Strict):
    note: str | None = Field(None, max_length=300)


class CheckOutIn(Strict):
    notes: str = Field(min_length=1, max_length=20000, description="What was done on site")


class CancelIn(Strict):
    reason: str = Field(min_length=1, max_length=300)


class ConfirmIn(Strict):
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(None, max_length=2000)


class WorkOrderEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_id: int | None
    kind: str
    from_value: str | None
    to_value: str | None
    body: str | None


class WorkOrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    ticket_id: int | None
    customer_org_id: int
    site_id: int | None
    title: str
    description: str | None
    kind: str
    priority: str
    status: str
    site_region_code: str
    site_address: str | None
    site_longitude: float
    site_latitude: float
    required_skills: list[str]
    required_certification: str | None
    estimated_minutes: int
    earliest_start_at: datetime
    arrival_due_at: datetime | None
    engineer_id: int | None
    assigned_org_id: int | None
    assigned_at: datetime | None
    planned_arrival_at: datetime | None
    travel_minutes: int | None
    distance_km: float | None
    accepted_at: datetime | None
    travel_started_at: datetime | None
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    work_notes: str | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    confirmed_at: datetime | None
    confirmation_rating: int | None
    confirmation_comment: str | None
    created_by_id: int
    created_at: datetime
    updated_at: datetime


class WorkOrderDetail(WorkOrderRead):
    site_region_name: str
    customer_name: str
    engineer_name: str | None
    assigned_org_name: str | None
    events: list[WorkOrderEventRead]


class CandidateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    engineer_id: int
    engineer_name: str
    org_name: str
    distance_km: float
    travel_minutes: int
    arrival_at: datetime
    on_time: bool | None
    late_minutes: int
    skills_matched: list[str]
    from_work_order_id: int | None = Field(
        default=None, description="The trip starts from this work order's site (the engineer is there); else home")


class ProposalRead(BaseModel):
    id: int | None = Field(description="Empty in a dry run")
    plan_id: int | None
    work_order_id: int
    title: str
    priority: str
    county: str
    region_code: str
    engineer_id: int | None
    engineer: str | None
    organization: str | None
    status: str
    distance_km: float | None
    travel_minutes: int | None
    arrival_at: datetime | None
    due_at: datetime | None
    on_time: bool | None
    late_minutes: int | None
    explanation: dict[str, Any]
    decided_by_id: int | None
    decided_at: datetime | None
    decision_note: str | None
    created_at: datetime | None


class PlanSummary(BaseModel):
    orders: int
    engineers: int
    on_time: int
    late: int
    unassigned: int
    travel_hours: float
    solve_ms: int


class PlanRead(BaseModel):
    id: int | None = Field(description="Empty for a dry run")
    planned_at: datetime
    created_by_id: int | None
    summary: PlanSummary
    proposals: list[ProposalRead]
