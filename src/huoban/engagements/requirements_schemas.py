"""API shapes for requirement versions, their diff, sign-off, change orders and graded deliverables."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from huoban.identity.schemas import Strict

Priority = Literal["must", "should", "could"]
KEY_PATTERN = r"^R-[1-9][0-9]{0,5}$"


class ItemIn(Strict):
    key: str | None = Field(None, pattern=KEY_PATTERN, description="An earlier item's key keeps its identity")
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=20000)
    acceptance_criteria: str | None = Field(None, max_length=20000)
    priority: Priority = "should"
    owner_id: int | None = None


class VersionCreate(Strict):
    """The full item set of the next version (nothing is edited in place)."""

    items: list[ItemIn] = Field(min_length=1, max_length=500)
    note: str | None = Field(None, max_length=5000)


class ChangeOrderCreate(VersionCreate):
    reason: str = Field(min_length=1, max_length=5000)
    effort_hours: int = Field(ge=0, le=1_000_000)
    price_impact_fen: int = Field(ge=-(10**13), le=10**13)


class DecisionIn(Strict):
    comment: str | None = Field(None, max_length=5000)


class ReturnIn(Strict):
    comment: str = Field(min_length=1, max_length=5000)


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    position: int
    title: str
    description: str | None
    acceptance_criteria: str | None
    priority: str
    owner_id: int | None


class VersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    engagement_id: int
    number: int
    based_on_id: int | None
    status: str
    note: str | None
    created_by_id: int
    created_at: datetime
    decided_by_id: int | None
    decided_at: datetime | None
    decision_comment: str | None
    is_current: bool = False


class VersionDetail(VersionRead):
    items: list[ItemRead]


class DiffRead(BaseModel):
    from_number: int
    to_number: int
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    changed: list[dict[str, Any]]
    reordered: list[dict[str, Any]]


class ChangeOrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    engagement_id: int
    from_version_id: int
    to_version_id: int
    reason: str
    effort_hours: int
    price_impact_fen: int
    status: str
    requested_by_id: int
    created_at: datetime
    decided_by_id: int | None
    decided_at: datetime | None
    decision_comment: str | None


class DeliverableCreate(Strict):
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=20000)
    item_keys: list[Annotated[str, Field(min_length=1, max_length=16)]] = Field(min_length=1, max_length=500)
    delivered_by_org_id: int


class GradeIn(Strict):
    score: int = Field(ge=1, le=5)
    comment: str | None = Field(None, max_length=5000)


class DeliverableRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    engagement_id: int
    title: str
    description: str | None
    item_keys: list[str]
    delivered_by_org_id: int
    status: str
    submitted_at: datetime | None
    score: int | None
    comment: str | None
    decided_by_id: int | None
    decided_at: datetime | None
    created_at: datetime


class ScoreRow(BaseModel):
    id: int
    name: str
    average_score: float | None
    graded: int
    accepted: int
    rejected: int
