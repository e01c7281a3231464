"""API shapes for organizations, users and tokens. Unknown fields are rejected, not ignored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from huoban.models import OrgKind, Role


class Strict(BaseModel):
    """Input models: unknown fields are errors, text is stripped and may not hold NUL characters
    (PostgreSQL cannot store them, and no person types one)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class OrgCreate(Strict):
    kind: OrgKind
    name: str = Field(min_length=1, max_length=200)
    industry: str | None = Field(None, max_length=64)
    region_code: str | None = Field(None, pattern=r"^\d{6}$")
    description: str | None = Field(None, max_length=2000)


class OrgUpdate(Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    industry: str | None = Field(None, max_length=64)
    region_code: str | None = Field(None, pattern=r"^\d{6}$")
    description: str | None = Field(None, max_length=2000)
    is_active: bool | None = None


class OrgRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: OrgKind
    name: str
    industry: str | None
    region_code: str | None
    description: str | None
    is_active: bool
    created_at: datetime


class UserCreate(Strict):
    org_id: int
    email: EmailStr
    display_name: str = Field(min_length=1, max_length=100)
    role: Role
    password: str | None = Field(None, max_length=256)
    phone: str | None = Field(None, max_length=32)


class UserUpdate(Strict):
    display_name: str | None = Field(None, min_length=1, max_length=100)
    role: Role | None = None
    is_active: bool | None = None
    phone: str | None = Field(None, max_length=32)
    locale: str | None = Field(None, pattern=r"^(zh_CN|en)$")
    timezone: str | None = Field(None, max_length=64)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    email: str
    display_name: str
    role: Role
    is_active: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    phone: str | None
    locale: str | None
    timezone: str | None
    created_at: datetime


class TokenCreate(Strict):
    name: str = Field("api", min_length=1, max_length=100)
    expires_in_days: int | None = Field(None, ge=1, le=3650)


class TokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="Shown once; only its hash is stored.")


class Me(BaseModel):
    user: UserRead
    organization: OrgRead
