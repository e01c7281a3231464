"""HTML pages of engagements for the provider: the list, a new engagement, one engagement (stages, consultations,
notes, deliverables) and the effort report.

The requirement editor, versions, diff and Excel live in `requirements_pages`, which shares the helpers here; the
customer's side lives in `portal_pages` (included here). Pages read through the repository's scoping and the
services, and change rows only through the services, each form post inside a savepoint: bad input rolls the
savepoint back and shows the page again with the message, changing nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from huoban.deps import DbSession
from huoban.engagements import excel, portal_pages, reports, requirements, service
from huoban.engagements.repository import get_engagement
from huoban.engagements.requirements_schemas import DeliverableCreate
from huoban.engagements.schemas import ConsultationCreate, EngagementCreate, EngagementUpdate, ParticipantIn, StageIn
from huoban.engagements.views import RowId, people, show_page, version_rows, yuan_input
from huoban.errors import HuobanError, Invalid, NotFound
from huoban.identity import repository as identity_repository
from huoban.identity.actor import Actor
from huoban.identity.pages import INDUSTRIES
from huoban.models import Engagement, Organization, OrgKind, Region, User
from huoban.web.forms import form_errors, form_id, query_id
from huoban.web.labels import N_
from huoban.web.pages import CsrfChecked, PageActor

router = APIRouter(include_in_schema=False)
router.include_router(portal_pages.router)

STAGES = ("inquiry", "consulting", "proposal", "bidding", "won", "lost", "delivering", "accepted", "closed")
KINDS = ("meeting", "call", "site_visit", "workshop")
SIDES = ("provider", "customer", "partner")
GROUPS = ("person", "engagement", "customer", "quarter")
PER_PAGE = 50
BLANK_PARTICIPANT_ROWS = 3
ROW_FIELD = re.compile(r"^(items|people)-(\d{1,3})-(\w+)$")

Text = Annotated[str, Query(max_length=100)]

_LABELS = [
    N_("stage:inquiry"), N_("stage:consulting"), N_("stage:proposal"), N_("stage:bidding"), N_("stage:won"),
    N_("stage:lost"), N_("stage:delivering"), N_("stage:accepted"), N_("stage:closed"),
    N_("consultation:meeting"), N_("consultation:call"), N_("consultation:site_visit"), N_("consultation:workshop"),
    N_("side:provider"), N_("side:customer"), N_("side:partner"),
    N_("priority:must"), N_("priority:should"), N_("priority:could"),
    N_("version:submitted"), N_("version:signed"), N_("version:returned"), N_("version:superseded"),
    N_("version:proposed-change"), N_("version:rejected-change"),
    N_("change:pending"), N_("change:approved"), N_("change:rejected"),
    N_("deliverable:pending"), N_("deliverable:submitted"), N_("deliverable:accepted"), N_("deliverable:rejected"),
    N_("group:person"), N_("group:engagement"), N_("group:customer"), N_("group:quarter"),
    N_("score-by:engagement"), N_("score-by:provider"), N_("score-by:customer"),
    N_("field:title"), N_("field:description"), N_("field:acceptance_criteria"), N_("field:priority"),
    N_("field:owner"),
]


# --- who may use the provider's side ---------------------------------------------------------------


def require_provider(actor: Actor) -> None:
    """The provider's pages are for operators; customers have the portal, partners see no engagements yet."""
    if not actor.is_operator:
        raise NotFound("Engagement not found.")


def operator_users(session: Session) -> list[User]:
    return list(session.scalars(
        select(User).join(Organization, Organization.id == User.org_id)
        .where(Organization.kind == OrgKind.operator, User.is_active.is_(True)).order_by(User.display_name)))


def _sales(session: Session) -> list[User]:
    return [u for u in operator_users(session) if u.role in {str(r) for r in service.SALES_ROLES}]


def _customers(session: Session, actor: Actor) -> list[Organization]:
    rows, _total = identity_repository.list_orgs(session, actor, kind=OrgKind.customer, limit=1000)
    return [o for o in rows if o.is_active]


def org_users(session: Session, org_id: int) -> list[User]:
    return list(session.scalars(select(User).where(User.org_id == org_id, User.is_active.is_(True))
                                .order_by(User.display_name)))


MAX_FEN = 10**15  # the schemas' upper bound; Decimal cannot quantize far beyond its precision




def parse_fen(value: str, field: str, *, signed: bool = False) -> int | None:
    """Yuan as typed (1,234.5) to integer fen; at most two decimals."""
    text = value.strip().replace(",", "").replace("，", "")
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = Decimal("NaN")
    if amount.is_finite() and abs(amount) * 100 > MAX_FEN:
        raise Invalid("Enter at most %(max)s yuan.", field=field, max=f"{MAX_FEN // 100:,}")
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")) or (amount < 0 and not signed):
        raise Invalid("Enter an amount in yuan with at most two decimals.", field=field)
    return int(amount * 100)


def _hours_to_minutes(value: str, field: str) -> int:
    text = value.strip()
    if not text:
        return 0
    try:
        hours = Decimal(text)
    except InvalidOperation:
        hours = Decimal("NaN")
    if not hours.is_finite() or hours < 0 or hours > 1000:
        raise Invalid("Enter hours as a number from 0 to 1000.", field=field)
    return int((hours * 60).to_integral_value())


def form_rows(form: Any, prefix: str) -> list[dict[str, str]]:
    """Rows of a repeating form part (`items-3-title`), in row order."""
    rows: dict[int, dict[str, str]] = {}
    for name, value in form.multi_items():
        match = ROW_FIELD.match(name)
        if match and match.group(1) == prefix and isinstance(value, str):
            rows.setdefault(int(match.group(2)), {})[match.group(3)] = value.strip() if match.group(3) != \
                "description" else value
    return [rows[i] for i in sorted(rows)]


# --- the list ----------------------------------------------------------------------------------------


@router.get("/engagements", response_class=HTMLResponse)
def engagement_list(
    request: Request, session: DbSession, actor: PageActor, stage: Text = "", customer: Text = "",
    owner: Text = "", q: Text = "", page: Annotated[int, Query(ge=1, le=10000)] = 1,
) -> Response:
    """Engagements newest first, with how many are in each stage under the other filters."""
    if actor.is_customer:
        return RedirectResponse("/portal/engagements", status_code=303)
    require_provider(actor)
    base = service.EngagementFilter(
        customer_org_id=query_id(customer), owner_id=query_id(owner), q=q.strip() or None)
    counts = {}
    for s in STAGES:
        base.stage = [s]
        counts[s] = service.list_engagements(session, actor, base, limit=1)[1]
    base.stage = [stage] if stage in STAGES else None
    rows, total = service.list_engagements(session, actor, base, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    orgs = {o.id: o for o in _customers(session, actor)}
    return show_page(request, "engagements/list.html", {
        "engagements": rows, "total": total, "counts": counts, "stages": STAGES, "page": page, "per_page": PER_PAGE,
        "qs": {"stage": stage, "customer": customer, "owner": owner, "q": q},
        "query": urlencode({"stage": stage, "customer": customer, "owner": owner, "q": q}),
        "customers": list(orgs.values()), "orgs": orgs, "owners": _sales(session),
        "people": people(session, {e.owner_id for e in rows}),
    })


# --- a new engagement, and editing one ----------------------------------------------------------------

FORM_FIELDS = ("title", "goal", "budget_min", "budget_max", "industry", "region_code", "owner_id")


def _form_values(form: Any) -> dict[str, Any]:
    values: dict[str, Any] = {k: str(form.get(k) or "") for k in ("customer_org_id", *FORM_FIELDS)}
    values["member_ids"] = [str(v) for v in form.getlist("member_ids")]
    return values


def _form_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The fields the new-engagement and edit forms share, as the schemas take them; a bad one raises with its
    field named."""
    if values["industry"] and values["industry"] not in INDUSTRIES:
        raise Invalid("Choose one of the offered options.", field="industry")
    return {"title": values["title"].strip(), "goal": values["goal"].strip(),
            "budget_min_fen": parse_fen(values["budget_min"], "budget_min_fen"),
            "budget_max_fen": parse_fen(values["budget_max"], "budget_max_fen"), "industry": values["industry"] or None,
            "region_code": values["region_code"].strip() or None, "owner_id": form_id(values["owner_id"], "owner_id"),
            "member_ids": [n for i, v in enumerate(values["member_ids"]) if (n := form_id(v, f"member_ids.{i}"))]}


def _engagement_form(request: Request, session: Session, actor: Actor, values: dict[str, Any], *,
                     engagement: Engagement | None = None, message: str | None = None,
                     errors: dict[str, str] | None = None, status: int = 200) -> Response:
    """The form for a new engagement, or for changing one (without its customer). The people offered are the
    sales staff, plus whoever already owns or works on the engagement."""
    sales = _sales(session)
    chosen = {values["owner_id"], *values["member_ids"]}
    sales += [u for u in operator_users(session) if str(u.id) in chosen and u not in sales]
    return show_page(request, "engagements/new.html", {
        "values": values, "message": message, "errors": errors or {}, "engagement": engagement,
        "customers": [] if engagement else _customers(session, actor), "sales": sales, "industries": INDUSTRIES,
    }, status_code=status)


@router.get("/engagements/new", response_class=HTMLResponse)
def new_engagement_form(request: Request, session: DbSession, actor: PageActor) -> Response:
    require_provider(actor)
    return _engagement_form(request, session, actor, {"owner_id": str(actor.user_id), "member_ids": []})


@router.post("/engagements/new", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def create_engagement(request: Request, session: DbSession, actor: PageActor) -> Response:
    require_provider(actor)
    values = _form_values(await request.form())
    try:
        with session.begin_nested():
            customer = form_id(values["customer_org_id"], "customer_org_id")
            engagement = service.create_engagement(session, actor, EngagementCreate(
                customer_org_id=customer, **_form_fields(values)))
    except (HuobanError, ValidationError) as exc:
        message, errors, status = form_errors(request, exc)
        return _engagement_form(request, session, actor, values, message=message, errors=errors, status=status)
    return RedirectResponse(f"/engagements/{engagement.id}", status_code=303)


@router.get("/engagements/{engagement_id}/edit", response_class=HTMLResponse)
def edit_engagement_form(request: Request, session: DbSession, actor: PageActor, engagement_id: RowId) -> Response:
    require_provider(actor)
    e = load_engagement(session, actor, engagement_id)
    values = {"title": e.title, "goal": e.goal, "budget_min": yuan_input(e.budget_min_fen),
              "budget_max": yuan_input(e.budget_max_fen), "industry": e.industry or "",
              "region_code": e.region_code or "", "owner_id": str(e.owner_id),
              "member_ids": [str(m.user_id) for m in service.members(session, e)]}
    return _engagement_form(request, session, actor, values, engagement=e)


@router.post("/engagements/{engagement_id}/edit", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def edit_engagement(request: Request, session: DbSession, actor: PageActor, engagement_id: RowId) -> Response:
    """Every field of the form is sent, so an emptied budget, industry or region is cleared (the API's PATCH
    with all of them set); the presales team is replaced by the boxes ticked."""
    require_provider(actor)
    load_engagement(session, actor, engagement_id)
    values = _form_values(await request.form())
    try:
        with session.begin_nested():
            service.update_engagement(session, actor, engagement_id, EngagementUpdate(**_form_fields(values)))
    except (HuobanError, ValidationError) as exc:
        message, errors, status = form_errors(request, exc)
        session.expire_all()
        return _engagement_form(request, session, actor, values,
                                engagement=load_engagement(session, actor, engagement_id),
                                message=message, errors=errors, status=status)
    return RedirectResponse(f"/engagements/{engagement_id}", status_code=303)


# --- one engagement ----------------------------------------------------------------------------------


def detail_page(request: Request, session: Session, actor: Actor, engagement: Engagement, *,
            values: dict[str, Any] | None = None, message: str | None = None, errors: dict[str, str] | None = None,
            status: int = 200, row_errors: list[dict[str, Any]] | None = None) -> Response:
    consultations, _total = service.list_consultations(session, actor, engagement.id, limit=200)
    participants = service.participants(session, [c.id for c in consultations])
    events = service.events(session, actor, engagement)
    members = service.members(session, engagement)
    versions = version_rows(session, engagement)
    orders = requirements.change_orders(session, engagement)
    deliverables = requirements.deliverables(session, engagement)
    current = requirements.current_version(session, engagement)
    ids = {engagement.owner_id, *(m.user_id for m in members), *(e.actor_id for e in events),
           *(v.version.created_by_id for v in versions), *(v.version.decided_by_id for v in versions),
           *(o.requested_by_id for o in orders), *(d.decided_by_id for d in deliverables)}
    orgs = {o.id: o for o in session.scalars(select(Organization).where(
        Organization.kind.in_((OrgKind.operator, OrgKind.partner)), Organization.is_active.is_(True))
        .order_by(Organization.kind, Organization.name))}
    values = values or {}
    return show_page(request, "engagements/detail.html", {
        "engagement": engagement, "customer": session.get(Organization, engagement.customer_org_id),
        "region": session.get(Region, engagement.region_code) if engagement.region_code else None,
        "members": members, "events": events, "consultations": consultations, "participants": participants,
        "versions": versions, "by_id": {v.version.id: v.version for v in versions}, "orders": orders,
        "deliverables": deliverables, "current": current,
        "current_items": requirements.items(session, current) if current else [],
        "people": people(session, ids), "orgs": orgs,
        "moves": sorted(service.TRANSITIONS.get(engagement.stage, set()), key=STAGES.index),
        "kinds": KINDS, "sides": SIDES, "blank_people": BLANK_PARTICIPANT_ROWS,
        "participant_users": operator_users(session) + org_users(session, engagement.customer_org_id),
        "values": values, "message": message, "errors": errors or {}, "row_errors": row_errors or [],
        "today": date.today().isoformat(), "is_sales": service.is_sales(actor),
        "change_mode": engagement.stage in requirements.DELIVERY_STAGES and current is not None,
        # accepted with signed requirements: the scope is settled, neither versions nor change orders
        "scope_final": engagement.stage == "accepted" and current is not None,
        "delivery_open": engagement.stage in requirements.DELIVERY_STAGES,
    }, status_code=status)


def load_engagement(session: Session, actor: Actor, engagement_id: int) -> Engagement:
    return get_engagement(session, actor, engagement_id)


@router.get("/engagements/reports/effort", response_class=HTMLResponse)
def effort_page(
    request: Request, session: DbSession, actor: PageActor, group_by: Text = "person", since: Text = "",
    until: Text = "",
) -> Response:
    """Pre-sales effort by person, engagement, customer or quarter; the age of open engagements per stage."""
    require_provider(actor)
    group = group_by if group_by in GROUPS else "person"
    message = None
    try:
        start = date.fromisoformat(since) if since else None
        end = date.fromisoformat(until) if until else None
        effort = reports.effort_report(session, actor, group, start, end)
    except (ValueError, HuobanError) as exc:
        message = form_errors(request, exc if isinstance(exc, HuobanError) else
                              Invalid("Enter dates as YYYY-MM-DD.", field="since"))[0]
        effort = reports.effort_report(session, actor, group)
    ages = reports.stage_age_report(session, actor)
    orgs = {o.id: o for o in _customers(session, actor)}
    return show_page(request, "engagements/effort.html", {
        "effort": effort, "ages": ages, "groups": GROUPS, "group_by": group, "since": since, "until": until,
        "orgs": orgs, "message": message, "scores": {by: requirements.scores(session, actor, by)
                                                     for by in ("engagement", "provider", "customer")},
    }, status_code=422 if message else 200)


@router.get("/engagements/{engagement_id}", response_class=HTMLResponse)
def engagement_page(request: Request, session: DbSession, actor: PageActor, engagement_id: RowId) -> Response:
    if actor.is_customer:
        get_engagement(session, actor, engagement_id)  # another customer's engagement is a 404
        return RedirectResponse(f"/portal/engagements/{engagement_id}", status_code=303)
    require_provider(actor)
    return detail_page(request, session, actor, load_engagement(session, actor, engagement_id))


def act(request: Request, session: Session, actor: Actor, engagement_id: int, values: dict[str, Any],
         action: Callable[[], Any], anchor: str = "", *, redirect: str | None = None) -> Response:
    """Run one change on an engagement the operator can see; on bad input show the page again, unchanged."""
    require_provider(actor)
    get_engagement(session, actor, engagement_id)
    try:
        with session.begin_nested():
            action()
    except (HuobanError, ValidationError) as exc:
        message, errors, status = form_errors(request, exc)
        session.expire_all()
        row_errors = exc.errors if isinstance(exc, excel.RowErrors) else None
        return detail_page(request, session, actor, get_engagement(session, actor, engagement_id), values=values,
                       message=message, errors=errors, status=status, row_errors=row_errors)
    return RedirectResponse(redirect or f"/engagements/{engagement_id}{anchor}", status_code=303)


@router.post("/engagements/{engagement_id}/stage", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def move_stage(request: Request, session: DbSession, actor: PageActor, engagement_id: RowId) -> Response:
    form = await request.form()
    stage, reason = str(form.get("stage") or ""), str(form.get("reason") or "").strip()
    return act(request, session, actor, engagement_id, {"stage": stage, "reason": reason},
                lambda: service.change_stage(session, actor, engagement_id,
                                             StageIn(stage=stage, reason=reason or None)),
                "#stage")


@router.post("/engagements/{engagement_id}/consultations", response_class=HTMLResponse,
             dependencies=[CsrfChecked])
async def record_consultation(request: Request, session: DbSession, actor: PageActor,
                              engagement_id: RowId) -> Response:
    form = await request.form()
    values: dict[str, Any] = {k: str(form.get(k) or "") for k in ("kind", "held_on", "title", "minutes",
                                                                   "follow_ups")}
    rows = [r for r in form_rows(form, "people") if r.get("user_id") or r.get("name")]
    values["people"] = rows

    def go() -> None:
        try:
            held = date.fromisoformat(values["held_on"])
        except ValueError:
            raise Invalid("Enter the date as YYYY-MM-DD.", field="held_on") from None
        participants = [
            ParticipantIn(user_id=form_id(r.get("user_id", ""), f"participants.{i}.user_id"),
                          name=r.get("name") or None, side=r.get("side") or "provider",
                          effort_minutes=_hours_to_minutes(r.get("hours", ""), f"participants.{i}.effort_minutes"))
            for i, r in enumerate(rows)]
        service.add_consultation(session, actor, engagement_id, ConsultationCreate(
            kind=values["kind"], held_on=held, title=values["title"].strip(),
            minutes=values["minutes"].strip() or None, follow_ups=values["follow_ups"].strip() or None,
            participants=participants))

    return act(request, session, actor, engagement_id, {"consultation": values}, go, "#consultations")


@router.post("/engagements/{engagement_id}/notes", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def add_note(request: Request, session: DbSession, actor: PageActor, engagement_id: RowId) -> Response:
    """An internal note on the provider's timeline; the portal never shows it."""
    body = str((await request.form()).get("body") or "")
    return act(request, session, actor, engagement_id, {"note": body},
                lambda: service.add_note(session, actor, engagement_id, body.strip()), "#timeline")


# --- deliverables ------------------------------------------------------------------------------------


@router.post("/engagements/{engagement_id}/deliverables", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def create_deliverable(request: Request, session: DbSession, actor: PageActor,
                             engagement_id: RowId) -> Response:
    form = await request.form()
    values: dict[str, Any] = {"title": str(form.get("title") or ""), "description": str(form.get("description") or ""),
              "item_keys": [str(k) for k in form.getlist("item_keys")],
              "delivered_by_org_id": str(form.get("delivered_by_org_id") or "")}

    def go() -> None:
        requirements.create_deliverable(session, actor, engagement_id, DeliverableCreate(
            title=values["title"].strip(), description=str(values["description"]).strip() or None,
            item_keys=values["item_keys"],
            delivered_by_org_id=form_id(str(values["delivered_by_org_id"]), "delivered_by_org_id") or 0))

    return act(request, session, actor, engagement_id, {"deliverable": values}, go, "#deliverables")


@router.post("/engagements/{engagement_id}/deliverables/{deliverable_id}/submit", response_class=HTMLResponse,
             dependencies=[CsrfChecked])
def submit_deliverable(request: Request, session: DbSession, actor: PageActor, engagement_id: RowId,
                       deliverable_id: RowId) -> Response:
    return act(request, session, actor, engagement_id, {},
                lambda: requirements.submit_deliverable(session, actor, engagement_id, deliverable_id),
                "#deliverables")

