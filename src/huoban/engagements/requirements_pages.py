"""The provider's requirement pages for one engagement: the editor that proposes the next version (or, once won,
a change order with its effort and price impact), one version read-only, the diff between two, and Excel import
and export.

Split from `pages`, whose helpers these share: the same operator-only check, the engagement page shown again with
the message on bad input, and each form post inside a savepoint.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile as StarletteUpload

from huoban.deps import DbSession
from huoban.engagements import excel, portal_pages, requirements
from huoban.engagements.pages import (
    act,
    detail_page,
    form_rows,
    load_engagement,
    operator_users,
    org_users,
    parse_fen,
    require_provider,
)
from huoban.engagements.repository import get_engagement
from huoban.engagements.requirements_schemas import ChangeOrderCreate, ItemIn
from huoban.engagements.views import RowId, export_response, show_page
from huoban.errors import HuobanError, Invalid
from huoban.identity.actor import Actor
from huoban.models import Engagement
from huoban.web.forms import DIGITS, FieldErrors, form_errors, form_id
from huoban.web.middleware import BodyTooLarge
from huoban.web.pages import CsrfChecked, PageActor, csrf_protect

router = APIRouter(include_in_schema=False)

PRIORITIES = ("must", "should", "could")
BLANK_ITEM_ROWS = 2


def _item_rows(form: Any) -> list[dict[str, str]]:
    """The items the editor keeps: rows with a title or a key that are not marked for removal."""
    return [r for r in form_rows(form, "items") if not r.get("remove") and (r.get("title") or r.get("key"))]


def _items_in(rows: list[dict[str, str]]) -> list[ItemIn]:
    out: list[ItemIn] = []
    errors: dict[str, str] = {}
    for index, row in enumerate(rows):
        try:
            owner = form_id(row.get("owner_id", ""), f"items.{index}.owner_id")
            out.append(ItemIn(key=row.get("key") or None, title=row.get("title", ""),
                              description=(row.get("description") or "").strip() or None,
                              acceptance_criteria=(row.get("acceptance_criteria") or "").strip() or None,
                              priority=row.get("priority") or "should", owner_id=owner))
        except ValidationError as exc:
            errors.update((f"items.{index}.{'.'.join(str(p) for p in e['loc'])}", e["msg"]) for e in exc.errors())
        except Invalid as exc:
            errors[exc.field or f"items.{index}"] = exc.message
    if errors:
        raise FieldErrors(errors)
    if not out:
        raise Invalid("Add at least one requirement item.", field="items")
    return out


def _item_values(version_items: list[Any]) -> list[dict[str, Any]]:
    return [{"key": i.key, "title": i.title, "description": i.description or "",
             "acceptance_criteria": i.acceptance_criteria or "", "priority": i.priority,
             "owner_id": str(i.owner_id or "")} for i in version_items]


# --- the editor, versions, diff, Excel -------------------------------------------------------------


def _editor(request: Request, session: Session, actor: Actor, engagement: Engagement, *,
            values: dict[str, Any] | None = None, message: str | None = None, errors: dict[str, str] | None = None,
            status: int = 200) -> Response:
    latest = requirements.latest_version(session, engagement)
    current = requirements.current_version(session, engagement)
    change_mode = engagement.stage in requirements.DELIVERY_STAGES and current is not None
    base = current if change_mode else latest
    if values is None:
        values = {"items": _item_values(requirements.items(session, base)) if base else [], "note": ""}
    return show_page(request, "engagements/edit.html", {
        "engagement": engagement, "values": values, "message": message, "errors": errors or {},
        "base": base, "change_mode": change_mode, "priorities": PRIORITIES, "blank_rows": BLANK_ITEM_ROWS,
        "owners": operator_users(session) + org_users(session, engagement.customer_org_id),
        "next_number": (latest.number if latest else 0) + 1,
    }, status_code=status)


@router.get("/engagements/{engagement_id}/requirements/edit", response_class=HTMLResponse)
def edit_requirements(request: Request, session: DbSession, actor: PageActor, engagement_id: RowId) -> Response:
    """The item set of the latest version (or, once won, of the signed one) to edit into the next version."""
    require_provider(actor)
    return _editor(request, session, actor, load_engagement(session, actor, engagement_id))


@router.post("/engagements/{engagement_id}/requirements", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def propose_requirements(request: Request, session: DbSession, actor: PageActor,
                               engagement_id: RowId) -> Response:
    """A new version with the edited item set, submitted for the customer's sign-off; after winning, a change
    order with its effort and price impact."""
    require_provider(actor)
    engagement = load_engagement(session, actor, engagement_id)
    form = await request.form()
    rows = _item_rows(form)
    values: dict[str, Any] = {"items": rows, **{k: str(form.get(k) or "") for k in (
        "note", "reason", "effort_hours", "price_impact")}}
    try:
        with session.begin_nested():
            items = _items_in(rows)
            note = values["note"].strip() or None
            if form.get("mode") == "change":
                effort = values["effort_hours"].strip()
                if not DIGITS.fullmatch(effort):
                    raise Invalid("Enter the effort in whole hours.", field="effort_hours")
                requirements.propose_change(session, actor, engagement_id, ChangeOrderCreate(
                    items=items, note=note, reason=values["reason"].strip(), effort_hours=int(effort),
                    price_impact_fen=parse_fen(values["price_impact"], "price_impact_fen", signed=True) or 0))
            else:
                requirements.propose_version(session, actor, engagement_id, items, note)
    except (HuobanError, ValidationError) as exc:
        message, errors, status = form_errors(request, exc)
        session.expire_all()
        return _editor(request, session, actor, load_engagement(session, actor, engagement_id), values=values,
                       message=message, errors=errors, status=status)
    anchor = "#change-orders" if form.get("mode") == "change" else "#requirements"
    return RedirectResponse(f"/engagements/{engagement.id}{anchor}", status_code=303)


@router.post("/engagements/{engagement_id}/requirements/import", response_class=HTMLResponse)
async def import_requirements(request: Request, session: DbSession, actor: PageActor,
                              engagement_id: RowId) -> Response:
    """A new version from an .xlsx; a bad file is refused whole, every bad row listed. The form is read here, not
    by FastAPI, so that a file past the upload limit shows this page again with a message instead of an error."""
    require_provider(actor)
    try:
        form = await request.form()
    except BodyTooLarge:
        too_big = Invalid("The file is larger than 1 MB.", field="file")
        message, errors, _status = form_errors(request, too_big)
        return detail_page(request, session, actor, load_engagement(session, actor, engagement_id), message=message,
                       errors=errors, status=413)
    await csrf_protect(request, actor)
    file = form.get("file")

    def go() -> None:
        if not isinstance(file, StarletteUpload) or not file.filename:
            raise Invalid("Choose an .xlsx file.", field="file")
        data = file.file.read(excel.MAX_BYTES + 1)
        engagement = get_engagement(session, actor, engagement_id)
        requirements.may_propose(actor, engagement)
        items = excel.read_items(data, requirements.owner_directory(session, engagement))
        requirements.propose_version(session, actor, engagement_id, items, "Imported from Excel")

    return act(request, session, actor, engagement_id, {}, go, "#requirements")


@router.get("/engagements/{engagement_id}/requirements/diff", response_class=HTMLResponse)
def diff_page(request: Request, session: DbSession, actor: PageActor, engagement_id: RowId,
              from_: Annotated[int | None, Query(alias="from", ge=1, le=1_000_000)] = None,
              to: Annotated[int | None, Query(ge=1, le=1_000_000)] = None) -> Response:
    require_provider(actor)
    return portal_pages.diff_view(request, session, actor, load_engagement(session, actor, engagement_id), from_, to,
                                  "/engagements")


@router.get("/engagements/{engagement_id}/requirements/{number}", response_class=HTMLResponse)
def version_page(request: Request, session: DbSession, actor: PageActor, engagement_id: RowId,
                 number: Annotated[int, Path(ge=1, le=1_000_000)]) -> Response:
    require_provider(actor)
    return portal_pages.version_view(request, session, actor, load_engagement(session, actor, engagement_id), number,
                                     "/engagements")


@router.get("/engagements/{engagement_id}/requirements/{number}/export.xlsx")
def export_version(session: DbSession, actor: PageActor, engagement_id: RowId,
                   number: Annotated[int, Path(ge=1, le=1_000_000)]) -> Response:
    require_provider(actor)
    return export_response(session, load_engagement(session, actor, engagement_id), number)
