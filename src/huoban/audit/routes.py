"""JSON API to read the audit log (audit_admin only) and check its chain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from huoban.api import Limit, Offset, Page
from huoban.audit import repository
from huoban.audit.service import verify
from huoban.deps import ApiActor, DbSession

router = APIRouter(tags=["audit"])


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_user_id: int | None
    actor_email: str | None
    actor_org_id: int | None
    action: str
    object_type: str
    object_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    ip: str | None
    hash: str


class VerifyRead(BaseModel):
    ok: bool
    checked: int
    first_bad_id: int | None
    reason: str | None


@router.get("/audit", response_model=Page[AuditRead])
def list_audit(
    session: DbSession, actor: ApiActor, limit: Limit = 50, offset: Offset = 0,
    action: Annotated[str | None, Query(max_length=64)] = None,
    object_type: Annotated[str | None, Query(max_length=64)] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    actor_email: Annotated[str | None, Query(max_length=254)] = None,
    since: datetime | None = None, until: datetime | None = None,
) -> Page[AuditRead]:
    filters = repository.AuditFilter(action, object_type, object_id, actor_email, since, until)
    rows, total = repository.list_entries(session, actor, filters, limit=limit, offset=offset)
    return Page(items=[AuditRead.model_validate(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/audit/verify", response_model=VerifyRead)
def verify_audit(session: DbSession, actor: ApiActor) -> VerifyRead:
    repository.require_reader(actor)
    result = verify(session)
    return VerifyRead(ok=result.ok, checked=result.checked, first_bad_id=result.first_bad_id, reason=result.reason)
