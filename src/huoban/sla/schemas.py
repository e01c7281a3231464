"""API shapes for working calendars, SLA policies and a year's holiday import. Unknown fields are rejected.

Targets are minutes of the policy calendar's working time: on `24x7` that is wall-clock time, on
`cn-standard` a P1 resolution of 480 minutes is one working day (ServiceNow's "1 day" ambiguity, ANCHORS.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from huoban.identity.schemas import Strict

Priority = Literal["P1", "P2", "P3", "P4"]
PauseStatus = Literal["new", "acknowledged", "in_progress", "waiting_customer"]
Notify = Literal["assignee", "dispatcher", "account_manager", "service_manager", "customer_admin"]
Minutes = Annotated[int, Field(gt=0, le=1_000_000, description="Working minutes on the policy's calendar")]
Intervals = list[list[str]]


# --- calendars ---------------------------------------------------------------------------------------------


class CalendarCreate(Strict):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = Field(None, max_length=500)
    definition: dict[str, Any] = Field(description='{"timezone", "week": {"mon": [["09:00","12:00"], ...], ...}, '
                                                   '"holidays": ["YYYY-MM-DD"], "overrides": {"YYYY-MM-DD": [...]}}')


class CalendarUpdate(Strict):
    description: str | None = Field(None, max_length=500)
    definition: dict[str, Any] | None = None


class YearImport(Strict):
    """One year's arrangement: replaces that year's holidays and overrides, keeps every other year's."""

    year: int = Field(ge=1900, le=2200)
    holidays: list[str] = Field(default_factory=list, max_length=366)
    overrides: dict[str, Intervals] = Field(default_factory=dict, max_length=366)


class CalendarRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    builtin: bool
    version: int
    timezone: str
    holidays: int = Field(description="How many holiday dates")
    overrides: int = Field(description="How many dated overrides")
    years: list[int] = Field(description="Years with holidays or overrides")
    created_at: datetime
    updated_at: datetime


class CalendarDetail(CalendarRead):
    definition: dict[str, Any]
    recomputed_clocks: int | None = Field(None, description="Open clocks recomputed by this edit")


# --- policies ----------------------------------------------------------------------------------------------


class MetricTargets(Strict):
    first_response: Minutes | None = None
    resolution: Minutes | None = None
    on_site: Minutes | None = None


class EscalationStep(Strict):
    percent: int = Field(ge=1, le=100, description="Share of the target used; 100 is the breach")
    notify: list[Notify] = Field(default_factory=list, max_length=5)


class PolicyCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    calendar_id: int
    customer_org_id: int | None = Field(None, description="A customer's policy; empty for the operator's")
    is_default: bool = False
    targets: dict[Priority, MetricTargets] = Field(min_length=1)
    pause_statuses: list[PauseStatus] = ["waiting_customer"]  # pydantic copies the default per instance
    escalations: list[EscalationStep] = Field(default_factory=list, max_length=20)
    is_active: bool = True


class PolicyUpdate(Strict):
    name: str | None = Field(None, min_length=1, max_length=100)
    calendar_id: int | None = None
    customer_org_id: int | None = None
    is_default: bool | None = None
    targets: dict[Priority, MetricTargets] | None = Field(None, min_length=1)
    pause_statuses: list[PauseStatus] | None = None
    escalations: list[EscalationStep] | None = Field(None, max_length=20)
    is_active: bool | None = None


class PolicyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    calendar_id: int
    customer_org_id: int | None
    is_default: bool
    targets: dict[str, dict[str, int]]
    pause_statuses: list[str]
    escalations: list[dict[str, Any]]
    is_active: bool
    created_at: datetime
    recomputed_clocks: int | None = Field(None, description="Open clocks recomputed by this edit")
