"""API shapes for tickets, their timeline, clocks and satisfaction ratings."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from huoban.identity.schemas import Strict

Priority = Literal["P1", "P2", "P3", "P4"]
Status = Literal["new", "acknowledged", "in_progress", "waiting_customer", "resolved", "closed"]
Category = Literal["incident", "fault", "service_request", "change", "consultation", "complaint"]
Channel = Literal["portal", "api", "phone", "email"]


class TicketCreate(Strict):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=20000)
    category: Category = "incident"
    priority: Priority = "P3"
    site_region_code: str | None = Field(None, pattern=r"^\d{6}$")
    site_address: str | None = Field(None, max_length=300)
    on_site_required: bool = False
    customer_org_id: int | None = Field(None, description="Operators raising a ticket on a customer's behalf")
    raised_by_id: int | None = Field(None, description="The customer user who called, when an agent raises it")
    channel: Channel | None = None


class TicketUpdate(Strict):
    priority: Priority | None = None
    category: Category | None = None
    assignee_id: int | None = None
    title: str | None = Field(None, min_length=1, max_length=200)


class TransitionIn(Strict):
    status: Status
    comment: str | None = Field(None, max_length=20000)


class CommentIn(Strict):
    body: str = Field(min_length=1, max_length=20000)
    public: bool = True


class RatingIn(Strict):
    score: int = Field(ge=1, le=5)
    comment: str | None = Field(None, max_length=2000)


class ClockRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    metric: str
    cycle: int
    target_seconds: int
    started_at: datetime
    due_at: datetime | None
    paused: bool
    met_at: datetime | None
    breached_at: datetime | None
    stopped_at: datetime | None
    state: Literal["running", "paused", "met", "breached", "stopped"]
    seconds_left: int | None = Field(description="Working seconds left until due (negative when late)")


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_id: int | None
    kind: str
    from_value: str | None
    to_value: str | None
    body: str | None
    is_public: bool


class AttachmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    is_public: bool
    created_at: datetime


class TicketRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_org_id: int
    raised_by_id: int
    created_by_id: int
    channel: str
    title: str
    description: str
    category: str
    priority: str
    status: str
    site_region_code: str | None
    site_address: str | None
    on_site_required: bool
    assignee_id: int | None
    sla_policy_id: int
    acknowledged_at: datetime | None
    first_responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    reopened_count: int
    csat_score: int | None
    csat_comment: str | None
    created_at: datetime
    updated_at: datetime


class TicketDetail(TicketRead):
    clocks: list[ClockRead]
    events: list[EventRead]
    attachments: list[AttachmentRead]
