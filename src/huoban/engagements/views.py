"""What the provider's pages and the customer's portal share: rendering with money and status helpers, form
errors as people read them, version rows as shown, and the Excel export."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from huoban.engagements import excel, requirements
from huoban.models import Engagement, RequirementVersion, User
from huoban.web.forms import MAX_ID, by_id
from huoban.web.render import render

RowId = Annotated[int, Path(ge=1, le=MAX_ID)]



def money(fen: int | None) -> str:
    """Fen as yuan: ¥1,234,567 or ¥1,234.50; negative amounts keep their sign."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}¥{yuan:,}" + (f".{cents:02d}" if cents else "")


def yuan_input(fen: int | None) -> str:
    if fen is None:
        return ""
    yuan, cents = divmod(abs(fen), 100)
    return ("-" if fen < 0 else "") + str(yuan) + (f".{cents:02d}" if cents else "")


def show_page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    return render(request, name, {"money": money, "yuan_input": yuan_input, **context}, status_code=status_code)




@dataclass
class VersionRow:
    """A version as listed: its stored status, or `superseded` once a later version took its place."""

    version: RequirementVersion
    shown: str
    is_current: bool
    is_latest: bool


def version_rows(session: Session, engagement: Engagement) -> list[VersionRow]:
    versions = requirements.versions(session, engagement)
    current = requirements.current_version(session, engagement)
    latest = versions[-1] if versions else None
    rows = []
    for v in versions:
        is_current = current is not None and v.id == current.id
        is_latest = latest is not None and v.id == latest.id
        shown = v.status
        if (v.status == "signed" and not is_current) or (v.status == "submitted" and not is_latest):
            shown = "superseded"
        rows.append(VersionRow(v, shown, is_current, is_latest))
    return list(reversed(rows))


def export_response(session: Session, engagement: Engagement, number: int) -> Response:
    version = requirements.get_version(session, engagement, number)
    rows = requirements.item_dicts(session, version)
    body = excel.write_items(rows, requirements.owner_emails(session, rows), title=f"v{version.number}")
    return Response(body, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", headers={
        "Content-Disposition": f'attachment; filename="engagement-{engagement.id}-requirements-v{version.number}.xlsx"',
        "Cache-Control": "private, no-store",
    })


def people(session: Session, ids: set[int | None]) -> dict[int, User]:
    return by_id(session, User, ids)
