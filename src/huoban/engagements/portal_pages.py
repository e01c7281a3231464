"""The customer's portal for engagements: its engagements with pending sign-offs and deliverables to grade; one
engagement with the current and signed requirement versions, the diff between any two, sign-off or return,
change orders to approve or reject, deliverables to grade, and Excel export.

Only the customer's own users get here, and nothing the provider keeps internal is shown: no consultations
(minutes, participants, hours), no internal timeline events, no presales team.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from huoban.deps import DbSession
from huoban.engagements import requirements, service
from huoban.engagements.repository import get_engagement
from huoban.engagements.requirements_schemas import DecisionIn, GradeIn, ReturnIn
from huoban.engagements.views import RowId, export_response, people, show_page, version_rows
from huoban.errors import HuobanError, Invalid, NotFound
from huoban.identity.actor import Actor
from huoban.models import Engagement, Organization, RequirementVersion
from huoban.web.forms import form_errors
from huoban.web.pages import CsrfChecked, PageActor

router = APIRouter(include_in_schema=False)
Number = Annotated[int, Path(ge=1, le=1_000_000)]
# Timeline entries the customer reads; consultations and team changes are the provider's own business.
PORTAL_EVENTS = ("created", "stage", "requirements.proposed", "requirements.signed", "requirements.returned",
                 "change_order.requested", "change_order.approved", "change_order.rejected",
                 "deliverable.submitted", "deliverable.accepted", "deliverable.rejected")


def _customer(actor: Actor) -> None:
    if not actor.is_customer:
        raise NotFound("Engagement not found.")


def _change_only(engagement: Engagement, current: RequirementVersion | None) -> bool:
    """Won with signed requirements: the scope changes only through change orders."""
    return engagement.stage in requirements.WON_STAGES and current is not None


def _signable(engagement: Engagement, latest: RequirementVersion | None, current: RequirementVersion | None) -> bool:
    """The latest version waits for a sign-off the customer can still give (the rule `requirements.sign` keeps):
    a version submitted before the win can then only be returned."""
    return (latest is not None and latest.status == "submitted" and engagement.stage not in ("lost", "closed")
            and not _change_only(engagement, current))


@router.get("/portal/engagements", response_class=HTMLResponse)
def portal_list(request: Request, session: DbSession, actor: PageActor) -> Response:
    """The organization's engagements, each with what waits for the customer."""
    if actor.is_operator:
        return RedirectResponse("/engagements", status_code=303)
    _customer(actor)
    rows, total = service.list_engagements(session, actor, service.EngagementFilter(), limit=200)
    waiting: dict[int, dict[str, int]] = {}
    for e in rows:
        latest, current = requirements.latest_version(session, e), requirements.current_version(session, e)
        orders = [o for o in requirements.change_orders(session, e) if o.status == "pending"]
        waiting[e.id] = {
            "signoffs": int(_signable(e, latest, current)) + len(orders),
            "grades": sum(1 for d in requirements.deliverables(session, e) if d.status == "submitted"),
        }
    return show_page(request, "portal/list.html", {"engagements": rows, "total": total, "waiting": waiting})


def _detail(request: Request, session: Session, actor: Actor, engagement: Engagement, *,
            values: dict[str, Any] | None = None, message: str | None = None, errors: dict[str, str] | None = None,
            status: int = 200, diff_from: int | None = None, diff_to: int | None = None) -> Response:
    versions = version_rows(session, engagement)
    current = requirements.current_version(session, engagement)
    latest = requirements.latest_version(session, engagement)
    orders = requirements.change_orders(session, engagement)
    deliverables = requirements.deliverables(session, engagement)
    events = [e for e in service.events(session, actor, engagement) if e.kind in PORTAL_EVENTS]
    numbers = [v.version.number for v in versions]
    diff = None
    if len(numbers) >= 2:
        to = diff_to if diff_to in numbers else numbers[0]
        older = [n for n in numbers if n < to]
        frm = diff_from if diff_from in numbers else (current.number if current and current.number < to else
                                                      (older[0] if older else numbers[-1]))
        diff = requirements.diff(session, engagement, frm, to)
    ids = {engagement.owner_id, *(e.actor_id for e in events), *(v.version.decided_by_id for v in versions),
           *(d.decided_by_id for d in deliverables), *(o.decided_by_id for o in orders)}
    return show_page(request, "portal/detail.html", {
        "engagement": engagement, "customer": session.get(Organization, engagement.customer_org_id),
        "versions": versions, "by_id": {v.version.id: v.version for v in versions}, "current": current,
        "latest": latest, "current_items": requirements.items(session, current) if current else [],
        "latest_items": requirements.items(session, latest) if latest and latest is not current else [],
        "orders": orders, "deliverables": deliverables, "events": events, "diff": diff, "numbers": numbers,
        "people": people(session, ids), "is_admin": requirements.is_customer_admin(actor, engagement),
        "can_sign": _signable(engagement, latest, current),
        "can_grade": actor.has_role("customer_admin", "customer_member"),
        "values": values or {}, "message": message, "errors": errors or {},
    }, status_code=status)


@router.get("/portal/engagements/{engagement_id}", response_class=HTMLResponse)
def portal_engagement(request: Request, session: DbSession, actor: PageActor, engagement_id: RowId,
                      from_: Annotated[int | None, Query(alias="from", ge=1, le=1_000_000)] = None,
                      to: Annotated[int | None, Query(ge=1, le=1_000_000)] = None) -> Response:
    if actor.is_operator:
        return RedirectResponse(f"/engagements/{engagement_id}", status_code=303)
    _customer(actor)
    return _detail(request, session, actor, get_engagement(session, actor, engagement_id), diff_from=from_,
                   diff_to=to)


def _act(request: Request, session: Session, actor: Actor, engagement_id: int, values: dict[str, Any],
         action: Callable[[], Any], anchor: str) -> Response:
    _customer(actor)
    get_engagement(session, actor, engagement_id)
    try:
        with session.begin_nested():
            action()
    except (HuobanError, ValidationError) as exc:
        message, errors, status = form_errors(request, exc)
        session.expire_all()
        return _detail(request, session, actor, get_engagement(session, actor, engagement_id), values=values,
                       message=message, errors=errors, status=status)
    return RedirectResponse(f"/portal/engagements/{engagement_id}{anchor}", status_code=303)


@router.post("/portal/engagements/{engagement_id}/requirements/{number}/decision", response_class=HTMLResponse,
             dependencies=[CsrfChecked])
async def decide_version(request: Request, session: DbSession, actor: PageActor, engagement_id: RowId,
                         number: Number) -> Response:
    """Sign off the submitted version (with an optional comment) or return it with comments."""
    form = await request.form()
    decision, comment = str(form.get("decision") or ""), str(form.get("comment") or "").strip()

    def go() -> None:
        if decision == "sign":
            requirements.sign(session, actor, engagement_id, number, DecisionIn(comment=comment or None).comment)
        elif decision == "return":
            if not comment:
                raise Invalid("Say what should change before returning the version.", field="comment")
            requirements.return_version(session, actor, engagement_id, number, ReturnIn(comment=comment).comment)
        else:
            raise Invalid("Choose one of the offered options.", field="decision")

    return _act(request, session, actor, engagement_id, {"signoff_comment": comment}, go, "#signoff")


@router.post("/portal/engagements/{engagement_id}/change-orders/{order_id}/decision", response_class=HTMLResponse,
             dependencies=[CsrfChecked])
async def decide_change(request: Request, session: DbSession, actor: PageActor, engagement_id: RowId,
                        order_id: RowId) -> Response:
    form = await request.form()
    decision, comment = str(form.get("decision") or ""), str(form.get("comment") or "").strip()

    def go() -> None:
        if decision not in ("approve", "reject"):
            raise Invalid("Choose one of the offered options.", field="decision")
        requirements.decide_change(session, actor, engagement_id, order_id, decision == "approve",
                                   DecisionIn(comment=comment or None).comment)

    return _act(request, session, actor, engagement_id, {f"change_{order_id}": comment}, go, "#change-orders")


@router.post("/portal/engagements/{engagement_id}/deliverables/{deliverable_id}/grade", response_class=HTMLResponse,
             dependencies=[CsrfChecked])
async def grade(request: Request, session: DbSession, actor: PageActor, engagement_id: RowId,
                deliverable_id: RowId) -> Response:
    """Accept or reject a submitted deliverable with a score from 1 to 5 and comments."""
    form = await request.form()
    decision, score = str(form.get("decision") or ""), str(form.get("score") or "")
    comment = str(form.get("comment") or "").strip()

    def go() -> None:
        if decision not in ("accept", "reject"):
            raise Invalid("Choose one of the offered options.", field="decision")
        if score not in ("1", "2", "3", "4", "5"):
            raise Invalid("Choose a score from 1 to 5.", field="score")
        requirements.grade_deliverable(session, actor, engagement_id, deliverable_id, decision == "accept",
                                       GradeIn(score=int(score), comment=comment or None))

    values = {f"grade_{deliverable_id}": {"score": score, "comment": comment}}
    return _act(request, session, actor, engagement_id, values, go, "#deliverables")


@router.get("/portal/engagements/{engagement_id}/requirements/{number}", response_class=HTMLResponse)
def portal_version(request: Request, session: DbSession, actor: PageActor, engagement_id: RowId,
                   number: Number) -> Response:
    _customer(actor)
    return version_view(request, session, actor, get_engagement(session, actor, engagement_id), number,
                        "/portal/engagements")


@router.get("/portal/engagements/{engagement_id}/requirements/{number}/export.xlsx")
def portal_export(session: DbSession, actor: PageActor, engagement_id: RowId, number: Number) -> Response:
    _customer(actor)
    return export_response(session, get_engagement(session, actor, engagement_id), number)


# --- shared with the provider's pages ----------------------------------------------------------------


def version_view(request: Request, session: Session, actor: Actor, engagement: Engagement, number: int,
                 base: str) -> Response:
    """One version's items, read-only (versions are never edited)."""
    version = requirements.get_version(session, engagement, number)
    row = next(r for r in version_rows(session, engagement) if r.version.id == version.id)
    items = requirements.items(session, version)
    return show_page(request, "engagements/version.html", {
        "engagement": engagement, "row": row, "version": version, "items": items, "base": base,
        "people": people(session, {version.created_by_id, version.decided_by_id, *(i.owner_id for i in items)}),
    })


def diff_view(request: Request, session: Session, actor: Actor, engagement: Engagement, from_: int | None,
              to: int | None, base: str) -> Response:
    """The readable difference between two versions, picked from and to."""
    versions = version_rows(session, engagement)
    numbers = [v.version.number for v in versions]
    if not numbers:
        raise NotFound("Requirement version not found.", field="version")
    to = to if to in numbers else numbers[0]
    frm = from_ if from_ in numbers else next((n for n in numbers if n < to), to)
    diff = requirements.diff(session, engagement, frm, to)
    return show_page(request, "engagements/diff.html", {
        "engagement": engagement, "diff": diff, "numbers": numbers, "base": base,
    })
