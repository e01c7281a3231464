"""API shapes for engagements, their timeline and consultations.

Customers read consultations through `ConsultationRead`, whose participants carry no effort: the
provider's effort is internal. Operators get `ConsultationInternalRead` with `effort_minutes`."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from huoban.identity.schemas import Strict

Stage = Literal["inquiry", "consulting", "proposal", "bidding", "won", "lost", "delivering", "accepted", "closed"]
ConsultationKind = Literal["meeting", "call", "site_visit", "workshop"]
Side = Literal["provider", "customer", "partner"]
EffortGroup = Literal["person", "engagement", "customer", "quarter"]

EARLIEST_CONSULTATION = date(2000, 1, 1)
MAX_FEN = 10**15  # ten trillion yuan: far above any budget, far below BIGINT


class EngagementCreate(Strict):
    customer_org_id: int | None = Field(None, description="Required for operators; customers create for their own")
    title: str = Field(min_length=1, max_length=200)
    goal: str = Field(min_length=1, max_length=20000, description="The customer's goal, in its own words")
    budget_min_fen: int | None = Field(None, ge=0, le=MAX_FEN)
    budget_max_fen: int | None = Field(None, ge=0, le=MAX_FEN)
    industry: str | None = Field(None, max_length=64)
    region_code: str | None = Field(None, pattern=r"^\d{6}$")
    owner_id: int | None = Field(None, description="An operator user; defaults to the caller (operators) or the "
                                                   "customer's account manager (customers)")
    member_ids: list[int] = Field(default_factory=list, max_length=50, description="The presales team")


class EngagementUpdate(Strict):
    title: str | None = Field(None, min_length=1, max_length=200)
    goal: str | None = Field(None, min_length=1, max_length=20000)
    budget_min_fen: int | None = Field(None, ge=0, le=MAX_FEN)
    budget_max_fen: int | None = Field(None, ge=0, le=MAX_FEN)
    industry: str | None = Field(None, max_length=64)
    region_code: str | None = Field(None, pattern=r"^\d{6}$")
    owner_id: int | None = None
    member_ids: list[int] | None = Field(None, max_length=50, description="Replaces the presales team")


class StageIn(Strict):
    stage: Stage
    reason: str | None = Field(None, max_length=5000, description="Required when the stage is `lost`")


class MemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: int
    role: str


class NoteCreate(Strict):
    body: str = Field(max_length=20000, description="1 to 4000 characters once stripped; internal to the provider")


class EngagementEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_id: int | None
    kind: str
    from_value: str | None
    to_value: str | None
    body: str | None


class EngagementRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_org_id: int
    title: str
    goal: str
    budget_min_fen: int | None
    budget_max_fen: int | None
    currency: str
    industry: str | None
    region_code: str | None
    owner_id: int
    stage: str
    lost_reason: str | None = Field(description="Why it was lost; null for customers (the reason is internal)")
    stage_changed_at: datetime
    won_at: datetime | None
    created_at: datetime
    updated_at: datetime


class EngagementDetail(EngagementRead):
    members: list[MemberRead] | None = Field(description="The presales team; null for customers")
    events: list[EngagementEventRead]


class ParticipantIn(Strict):
    user_id: int | None = Field(None, description="A user of Huoban, when the person has an account")
    name: str | None = Field(None, min_length=1, max_length=100, description="Defaults to the user's name")
    side: Side
    effort_minutes: int = Field(0, ge=0, le=100_000, description="Only provider and partner people carry effort")


class ConsultationCreate(Strict):
    kind: ConsultationKind
    held_on: date
    title: str = Field(min_length=1, max_length=200)
    minutes: str | None = Field(None, max_length=50000)
    follow_ups: str | None = Field(None, max_length=20000)
    participants: list[ParticipantIn] = Field(default_factory=list, max_length=100)

    @field_validator("held_on")
    @classmethod
    def _plausible_date(cls, value: date) -> date:
        """From 2000 to a year ahead (a planned workshop); year 1 or 9999 is a typing slip."""
        if not EARLIEST_CONSULTATION <= value <= date.today() + timedelta(days=366):
            raise ValueError(f"must be between {EARLIEST_CONSULTATION.isoformat()} and a year from today")
        return value


class ParticipantRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: int | None
    name: str
    side: str


class ParticipantInternalRead(ParticipantRead):
    effort_minutes: int


class ConsultationRead(BaseModel):
    """What the customer sees: no effort."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    engagement_id: int
    kind: str
    held_on: date
    title: str
    minutes: str | None
    follow_ups: str | None
    created_by_id: int
    created_at: datetime
    participants: list[ParticipantRead]


class ConsultationInternalRead(ConsultationRead):
    """What the provider sees: each person's effort."""

    participants: list[ParticipantInternalRead]  # type: ignore[assignment]
    effort_minutes: int


class EffortRow(BaseModel):
    key: str = Field(description="user id (or `name:...` for people without an account), engagement id, "
                                 "customer organization id, or quarter like 2026-Q3")
    label: str
    minutes: int
    hours: float
    open_minutes: int = Field(description="Minutes on engagements still in pre-sales (inquiry to bidding)")
    consultations: int
    engagements: int


class EffortReport(BaseModel):
    group_by: EffortGroup
    since: date | None
    until: date | None
    total_minutes: int
    rows: list[EffortRow]


class StageAgeRow(BaseModel):
    engagement_id: int
    title: str
    customer_org_id: int
    stage: str
    days_in_stage: float
    age_days: float
    days_by_stage: dict[str, float] = Field(
        default_factory=dict, description="Days spent in each stage so far, read from the timeline (a stage "
                                          "entered twice adds up); the current stage counted to now")


class StageAverage(BaseModel):
    stage: str
    average_days: float
    stays: int = Field(description="Completed stays in this stage the average is taken over")


class StageAgeReport(BaseModel):
    engagements: list[StageAgeRow]
    averages: list[StageAverage]
