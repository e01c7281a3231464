"""The audit_admin's page to browse and filter the audit log and check its chain."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from huoban.audit import repository
from huoban.audit.service import verify
from huoban.config import get_settings
from huoban.deps import DbSession
from huoban.web.pages import PageActor
from huoban.web.render import render

router = APIRouter(include_in_schema=False)
PAGE = 50


def _day_start(day: date | None, tz: str) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(tz)) if day else None


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, session: DbSession, actor: PageActor,
    action: Annotated[str | None, Query(max_length=64)] = None,
    object_type: Annotated[str | None, Query(max_length=64)] = None,
    actor_email: Annotated[str | None, Query(max_length=254)] = None,
    since: date | None = None, until: date | None = None, page: Annotated[int, Query(ge=1)] = 1,
    check: bool = False,
) -> Response:
    repository.require_reader(actor)
    tz = get_settings().timezone
    until_end = _day_start(until + timedelta(days=1), tz) if until else None
    f = repository.AuditFilter(action or None, object_type or None, None, actor_email or None,
                               _day_start(since, tz), until_end)
    rows, total = repository.list_entries(session, actor, f, limit=PAGE, offset=(page - 1) * PAGE)
    return render(request, "audit/list.html", {
        "rows": rows, "total": total, "page": page, "pages": max(1, -(-total // PAGE)),
        "filters": {"action": action or "", "object_type": object_type or "", "actor_email": actor_email or "",
                    "since": since.isoformat() if since else "", "until": until.isoformat() if until else ""},
        "verify": verify(session) if check else None,
    })
