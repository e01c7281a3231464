"""API shapes for webhook endpoints and the outbox. Unknown fields are rejected, not ignored."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

EventName = Annotated[str, Field(min_length=1, max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class WebhookCreate(Strict):
    url: str = Field(min_length=1, max_length=500, description="http:// or https:// URL that receives POSTs")
    events: list[EventName] = Field(min_length=1, max_length=100, description='Event names, or "*" for all')
    org_id: int | None = Field(None, description="Owning organization (operators only; default: your own)")
    is_active: bool = True


class WebhookUpdate(Strict):
    url: str | None = Field(None, min_length=1, max_length=500)
    events: list[EventName] | None = Field(None, min_length=1, max_length=100)
    is_active: bool | None = None


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    url: str
    events: list[str]
    is_active: bool
    created_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(description="Signs every delivery (X-Huoban-Signature); shown once.")


class WebhookTestQueued(BaseModel):
    outbox_id: int
    status: str


class OutboxRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    topic: str
    status: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime
    locked_until: datetime | None
    claimed_by: str | None
    last_error: str | None
    delivered_at: datetime | None
    dedupe_key: str | None
    payload: dict[str, Any]
    created_at: datetime
