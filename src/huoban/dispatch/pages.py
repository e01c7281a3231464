"""HTML pages of on-site dispatch: the dispatcher's board (/dispatch), one work order (/dispatch/orders/{id}) and
a new work order from a ticket (/dispatch/orders/new). The engineer's phone page (/my/orders) and the customer's
visits (/visits) are in `field_pages`, built from the helpers here.

Rows are read through the dispatch repository's `readable` scoping and changed only through the dispatch rules
(`service`, `orders`), each form post inside a savepoint: bad input rolls it back and shows the page again with
the message. After a change the browser is sent back (303) to the page it came from, with `?done=...` naming
what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import case, select
from sqlalchemy.orm import Session

from huoban.deps import DbSession
from huoban.dispatch import orders, repository, service, views
from huoban.dispatch.schemas import SKILLS, WorkOrderCreate
from huoban.errors import Forbidden, HuobanError, Invalid, NotFound
from huoban.identity.actor import Actor
from huoban.models import (
    ACTIVE_ORDER_STATES,
    CustomerSite,
    DispatchPlan,
    DispatchProposal,
    Engineer,
    Organization,
    OrgKind,
    Role,
    Ticket,
    User,
    WorkOrder,
    utcnow,
)
from huoban.service_desk import repository as desk_repository
from huoban.web.forms import MAX_ID, by_id, form_errors, form_id, query_id, regions_by_code
from huoban.web.i18n import gettext_for
from huoban.web.labels import N_
from huoban.web.pages import CsrfChecked, PageActor
from huoban.web.render import render, request_locale

router = APIRouter(include_in_schema=False)

RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
Short = Annotated[str, Form(max_length=300)]
Text = Annotated[str, Form(max_length=20000)]
PRIORITY_ORDER = {"P1": 1, "P2": 2, "P3": 3, "P4": 4}
KINDS = ("repair", "maintenance", "installation")
STATUSES = ("proposed", "assigned", "accepted", "travelling", "on_site", "done", "cancelled")
DONE_NOTICES = {
    "planned": N_("A new plan was made; its proposals are shown with each order."),
    "accepted": N_("The proposal was accepted: the engineer is assigned."),
    "rejected": N_("The proposal was rejected."),
    "assigned": N_("The engineer was assigned."),
    "cancelled": N_("The work order was cancelled."),
    "created": N_("The work order was created."),
    "engineer_accept": N_("You accepted the work order."),
    "start_travel": N_("Travel started: safe journey."),
    "check_in": N_("Checked in on site."),
    "check_out": N_("Checked out: the visit is done."),
    "confirmed": N_("Thank you: the visit is confirmed."),
}

@dataclass(frozen=True)
class Labels:
    """Words for the values stored in rows (English msgids, translated in the templates)."""

    status: dict[str, str]
    kind: dict[str, str]
    skill: dict[str, str]
    proposal: dict[str, str]
    event: dict[str, str]


LABELS = Labels(
    status={"proposed": N_("Waiting for dispatch"), "assigned": N_("Assigned"),
            "accepted": N_("Accepted by the engineer"), "travelling": N_("On the way"),
            "on_site": N_("Engineer on site"), "done": N_("Visit done"),
            "cancelled": N_("Cancelled")},
    kind={"repair": N_("Repair"), "maintenance": N_("Planned maintenance"), "installation": N_("Installation")},
    skill={"network": N_("Network"), "storage": N_("Storage"), "database": N_("Database"), "server": N_("Servers"),
           "power_scada": N_("Power-grid SCADA"), "security": N_("Security"), "cloud": N_("Cloud"),
           "power": N_("Power supply and UPS"), "video": N_("Video surveillance"), "desktop": N_("Desktop support")},
    proposal={"pending": N_("Waiting for a decision"), "accepted": N_("Accepted"), "rejected": N_("Rejected"),
              "superseded": N_("Superseded by a newer plan")},
    event={"created": N_("Created the work order."), "assigned": N_("Assigned an engineer."),
           "override": N_("Changed the engineer."), "note": N_("Note"), "rejected": N_("Rejected a proposal."),
           "cancelled": N_("Cancelled the work order.")},
)


REASONS = {
    "missing_skill": N_("No engineer has these skills: %(params)s."),
    "missing_skill_combination": N_("No engineer has all of these skills together: %(params)s."),
    "missing_certification": N_("No engineer with the skills holds the certificate %(params)s."),
    "region_not_served": N_("No qualified engineer serves division %(params)s."),
    "no_capacity": N_("Every qualified engineer has reached today's maximum of work orders."),
    "certification_expired": N_("Every qualified engineer's certificate %(params)s will have expired by the arrival."),
    "on_leave_or_busy": N_("Every qualified engineer is on leave, in training or booked."),
    "engineers_taken": N_("The %(params)s qualified engineers are proposed for more urgent orders."),
    "from_site": N_("Sets off from the site of work order %(params)s when that job ends."),
}


def _reason(_: Any, text: str) -> str:
    """An optimizer reason ("code:param,param") in words; "late" is shown as a badge instead."""
    code, _sep, rest = text.partition(":")
    if code not in REASONS:
        return text
    params = [str(_(LABELS.skill[p])) if p in LABELS.skill else p for p in rest.split(",") if p]
    return str(_(REASONS[code], params="、".join(params) if params else ""))


# --- small helpers ---------------------------------------------------------------------------------


def _span(_: Any, minutes: int | float | None) -> str:
    """Minutes as hours and minutes, e.g. "3 小时 20 分钟"."""
    total = abs(int(minutes or 0))
    hours, mins = divmod(total, 60)
    if hours and mins:
        return str(_("%(h)s h %(m)s min", h=hours, m=mins))
    if hours:
        return str(_("%(h)s h", h=hours))
    return str(_("%(m)s min", m=mins))


def _minutes_until(moment: datetime | None, now: datetime) -> int | None:
    return None if moment is None else int((moment - now).total_seconds() // 60)


def page_response(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    _ = gettext_for(request_locale(request))
    now = utcnow()
    done = request.query_params.get("done", "")
    extra: dict[str, Any] = {
        "span": lambda minutes: _span(_, minutes), "now": now, "labels": LABELS,
        "until": lambda moment: _minutes_until(moment, now),
        "reasons": lambda explanation: [_reason(_, r) for r in (explanation or {}).get("reasons", [])
                                         if not str(r).startswith("late")],
        "minutes_between": lambda start, end: _minutes_until(end, start) if start and end else None,
    }
    if done in DONE_NOTICES and "notice" not in context:
        extra["notice"] = _(DONE_NOTICES[done])
    return render(request, name, {**extra, **context}, status_code=status_code)


def order_names(session: Session, orders: list[WorkOrder], proposals: list[DispatchProposal] | None = None
           ) -> dict[str, Any]:
    """Everything a list of orders shows besides the rows: customers, engineers, their users and orgs, regions."""
    engineer_ids: set[int | None] = {o.engineer_id for o in orders} | {p.engineer_id for p in proposals or []}
    engineers = by_id(session, Engineer, engineer_ids)
    return {
        "engineers": engineers,
        "engineer_users": by_id(session, User, {e.user_id for e in engineers.values()}),
        "orgs": by_id(session, Organization, {*(o.customer_org_id for o in orders),
                                              *(e.org_id for e in engineers.values()),
                                              *(o.assigned_org_id for o in orders)}),
        "regions": regions_by_code(session, {o.site_region_code for o in orders}),
    }


def _urgency() -> list[Any]:
    """Earliest arrival due first (orders without a due time last), then priority, then age."""
    return [
        case((WorkOrder.arrival_due_at.is_(None), 1), else_=0), WorkOrder.arrival_due_at,
        case(PRIORITY_ORDER, value=WorkOrder.priority, else_=9), WorkOrder.created_at, WorkOrder.id,
    ]


def _orders(session: Session, actor: Actor, statuses: tuple[str, ...], limit: int = 200) -> list[WorkOrder]:
    stmt = repository.readable(select(WorkOrder), actor).where(WorkOrder.status.in_(statuses))
    return list(session.scalars(stmt.order_by(*_urgency()).limit(limit)))


def _back(url: str, done: str) -> RedirectResponse:
    anchor = ""
    if "#" in url:
        url, anchor = url.split("#", 1)
        anchor = "#" + anchor
    sep = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{sep}done={done}{anchor}", status_code=303)


# --- who may use which page ------------------------------------------------------------------------


def is_planner(actor: Actor) -> bool:
    """Operator dispatchers and admins plan and decide; agents read the board and raise work orders."""
    return actor.is_operator and actor.has_role(Role.admin, Role.dispatcher)


def _board_reader(actor: Actor) -> None:
    if actor.is_operator:
        if not actor.has_role(Role.admin, Role.dispatcher, Role.agent):
            raise Forbidden("The dispatch board is for the provider's dispatchers and agents.")
        return
    if not actor.has_role(Role.partner_admin):
        raise NotFound("Work order not found.")


def _creator(actor: Actor) -> None:
    if not actor.is_operator:
        raise NotFound("Work order not found.")
    if not actor.has_role(Role.admin, Role.dispatcher, Role.agent):
        raise Forbidden("Only the provider's dispatchers and agents create work orders.")


def _planner(actor: Actor) -> None:
    if not actor.is_operator:
        raise NotFound("Work order not found.")
    if not is_planner(actor):
        raise Forbidden("Only the provider's dispatchers plan and decide proposals.")


# --- the dispatcher's board ------------------------------------------------------------------------


def _board(request: Request, session: Session, actor: Actor, *, message: str | None = None,
           errors: dict[str, str] | None = None, status: int = 200) -> Response:
    open_orders = _orders(session, actor, ("proposed",))
    active = _orders(session, actor, ACTIVE_ORDER_STATES)
    proposals: dict[int, DispatchProposal] = {}
    if open_orders and actor.is_operator:
        rows = session.scalars(
            select(DispatchProposal)
            .where(DispatchProposal.work_order_id.in_([o.id for o in open_orders]),
                   DispatchProposal.status == "pending")
            .order_by(DispatchProposal.id)
        )
        proposals = {p.work_order_id: p for p in rows}
    plan = session.scalar(select(DispatchPlan).order_by(DispatchPlan.id.desc()).limit(1)) if actor.is_operator \
        else None
    return page_response(request, "dispatch/board.html", {
        "open_orders": open_orders, "active": active, "proposals": proposals, "plan": plan,
        **order_names(session, open_orders + active, list(proposals.values())),
        "can_plan": is_planner(actor), "can_create": actor.is_operator,
        "message": message, "errors": errors or {},
    }, status_code=status)


@router.get("/dispatch", response_class=HTMLResponse)
def board(request: Request, session: DbSession, actor: PageActor) -> Response:
    """Open orders by urgency with their pending proposals; assigned and active orders below."""
    _board_reader(actor)
    return _board(request, session, actor)


def _decide(request: Request, session: Session, actor: Actor, action: Callable[[], Any], done: str,
            back: str = "/dispatch") -> Response:
    try:
        with session.begin_nested():
            action()
    except (HuobanError, ValidationError) as exc:
        if isinstance(exc, HuobanError) and exc.status_code == 404:
            raise
        message, errors, status = form_errors(request, exc)
        session.expire_all()
        return _board(request, session, actor, message=message, errors=errors, status=status)
    return _back(back, done)


@router.post("/dispatch/plan", response_class=HTMLResponse, dependencies=[CsrfChecked])
def plan(request: Request, session: DbSession, actor: PageActor) -> Response:
    """Run one optimizer round over the open orders; earlier pending proposals are superseded."""
    _planner(actor)
    return _decide(request, session, actor, lambda: service.plan_round(session, actor), "planned")


@router.post("/dispatch/proposals/{proposal_id}/accept", response_class=HTMLResponse, dependencies=[CsrfChecked])
def accept(request: Request, session: DbSession, actor: PageActor, proposal_id: RowId) -> Response:
    _planner(actor)
    return _decide(request, session, actor, lambda: service.accept_proposal(session, actor, proposal_id), "accepted")


@router.post("/dispatch/proposals/{proposal_id}/reject", response_class=HTMLResponse, dependencies=[CsrfChecked])
def reject(request: Request, session: DbSession, actor: PageActor, proposal_id: RowId, note: Short = "") -> Response:
    _planner(actor)
    return _decide(request, session, actor,
                   lambda: service.reject_proposal(session, actor, proposal_id, note.strip() or None), "rejected")


# --- one work order ----------------------------------------------------------------------------------


def my_engineer(session: Session, actor: Actor) -> Engineer | None:
    return session.scalar(select(Engineer).where(Engineer.user_id == actor.user_id))


def _detail(request: Request, session: Session, actor: Actor, order: WorkOrder, *, values: dict[str, Any] | None = None,
            message: str | None = None, errors: dict[str, str] | None = None, status: int = 200) -> Response:
    # the same timeline as the API: customers and partners do not read the dispatchers' notes
    events = views.visible_events(repository.work_order_events(session, order), actor)
    proposals: list[DispatchProposal] = []
    candidates: list[Any] = []
    planner = is_planner(actor)
    if actor.is_operator:
        proposals = list(session.scalars(select(DispatchProposal).where(DispatchProposal.work_order_id == order.id)
                                         .order_by(DispatchProposal.id.desc()).limit(20)))
        if planner and order.status in ("proposed", "assigned", "accepted"):
            candidates = list(service.candidates(session, actor, order.id))
    mine = my_engineer(session, actor)
    names = order_names(session, [order], proposals)
    people = by_id(session, User, {e.actor_id for e in events} | {order.created_by_id, order.confirmed_by_id})
    return page_response(request, "dispatch/detail.html", {
        "order": order, "events": events, "proposals": proposals, "candidates": candidates, "people": people,
        "actor_orgs": by_id(session, Organization, {u.org_id for u in people.values()}),
        "site": session.get(CustomerSite, order.site_id) if order.site_id else None,
        "ticket_url": _ticket_url(session, actor, order),
        "can_plan": planner, "is_mine": mine is not None and order.engineer_id == mine.id,
        "can_confirm": actor.is_customer and order.status == "done" and order.confirmed_at is None,
        "values": values or {}, "message": message, "errors": errors or {}, **names,
    }, status_code=status)


def _ticket_url(session: Session, actor: Actor, order: WorkOrder) -> str | None:
    """The ticket's page for those who may read it (the desk for the provider, the portal for the customer)."""
    if order.ticket_id is None:
        return None
    if actor.is_operator:
        return f"/desk/tickets/{order.ticket_id}"
    if actor.is_customer:
        return f"/tickets/{order.ticket_id}"
    return None


@router.get("/dispatch/orders/new", response_class=HTMLResponse)
def new_order_form(
    request: Request, session: DbSession, actor: PageActor,
    ticket_id: Annotated[str, Query(max_length=12)] = "", customer_org_id: Annotated[str, Query(max_length=12)] = "",
) -> Response:
    """From a ticket needing a visit (`?ticket_id=N`, title, priority and site taken from it) or for planned
    maintenance at a customer's site."""
    _creator(actor)
    values: dict[str, Any] = {"kind": "maintenance", "priority": "P3", "estimated_minutes": "120", "skills": []}
    ticket = None
    if ticket_id:
        ticket = desk_repository.get_ticket(session, actor, _ticket_number(ticket_id) or 0)
        values.update({"ticket_id": str(ticket.id), "title": ticket.title, "kind": "repair",
                       "priority": ticket.priority, "site_region_code": ticket.site_region_code or "",
                       "site_address": ticket.site_address or "", "customer_org_id": str(ticket.customer_org_id)})
    elif customer_org_id.isdigit():
        values["customer_org_id"] = customer_org_id
    return _new_form(request, session, actor, values, ticket=ticket)


def _new_form(request: Request, session: Session, actor: Actor, values: dict[str, Any], *,
              ticket: Ticket | None = None, message: str | None = None, errors: dict[str, str] | None = None,
              status: int = 200) -> Response:
    customers = list(session.scalars(select(Organization).where(Organization.kind == OrgKind.customer,
                                                                Organization.is_active.is_(True))
                                     .order_by(Organization.name)))
    org_id = int(values["customer_org_id"]) if str(values.get("customer_org_id") or "").isdigit() else None
    sites = list(session.scalars(select(CustomerSite).where(CustomerSite.customer_org_id == org_id)
                                 .order_by(CustomerSite.region_code, CustomerSite.name))) if org_id else []
    open_orders = []
    if ticket is not None:
        open_orders = list(session.scalars(select(WorkOrder).where(WorkOrder.ticket_id == ticket.id,
                                                                   WorkOrder.status != "cancelled")))
    return page_response(request, "dispatch/new.html", {
        "values": values, "ticket": ticket, "customers": customers, "sites": sites, "skills": SKILLS,
        "kinds": KINDS, "priorities": list(PRIORITY_ORDER), "existing": open_orders,
        "regions": regions_by_code(session, {s.region_code for s in sites} | {values.get("site_region_code")}),
        "message": message, "errors": errors or {},
    }, status_code=status)


@router.post("/dispatch/orders/new", response_class=HTMLResponse, dependencies=[CsrfChecked])
def create_order(
    request: Request, session: DbSession, actor: PageActor,
    ticket_id: Short = "", customer_org_id: Short = "", site_id: Short = "", site_region_code: Short = "",
    site_address: Short = "", title: Short = "", description: Text = "", kind: Short = "", priority: Short = "",
    required_skills: Annotated[list[str] | None, Form(max_length=20)] = None, required_certification: Short = "",
    estimated_minutes: Short = "120",
) -> Response:
    _creator(actor)
    skills = [s for s in (required_skills or []) if s]
    values: dict[str, Any] = {
        "ticket_id": ticket_id, "customer_org_id": customer_org_id, "site_id": site_id,
        "site_region_code": site_region_code.strip(), "site_address": site_address, "title": title,
        "description": description, "kind": kind, "priority": priority, "skills": skills,
        "required_certification": required_certification, "estimated_minutes": estimated_minutes,
    }
    ticket_number = _ticket_number(ticket_id)
    ticket = desk_repository.get_ticket(session, actor, ticket_number) if ticket_number else None
    try:
        with session.begin_nested():
            minutes = estimated_minutes.strip()
            if minutes and not minutes.isdigit():
                raise Invalid("Enter the expected time on site in minutes.", field="estimated_minutes")
            data = WorkOrderCreate(
                ticket_id=ticket_number,
                customer_org_id=None if ticket_number else form_id(customer_org_id, "customer_org_id"),
                site_id=form_id(site_id, "site_id"), site_region_code=site_region_code.strip() or None,
                site_address=site_address.strip() or None, title=title.strip() or None,
                description=description.strip() or None, kind=kind or None, priority=priority or None,
                required_skills=skills, required_certification=required_certification.strip() or None,
                estimated_minutes=int(minutes or 120),
            )
            order = orders.create_work_order(session, actor, data)
    except (HuobanError, ValidationError) as exc:
        if isinstance(exc, HuobanError) and exc.status_code == 404:
            raise
        message, errors, status = form_errors(request, exc)
        session.expire_all()
        return _new_form(request, session, actor, values, ticket=ticket, message=message, errors=errors,
                         status=status)
    return _back(f"/dispatch/orders/{order.id}", "created")


def _ticket_number(text: str) -> int | None:
    """The ticket a form or link names: None when it names none; a malformed id is an unknown ticket."""
    if not text.strip():
        return None
    number = query_id(text)
    if number is None:
        raise NotFound("Ticket not found.")
    return number


@router.get("/dispatch/orders/{order_id}", response_class=HTMLResponse)
def order_page(request: Request, session: DbSession, actor: PageActor, order_id: RowId) -> Response:
    """The order, its timeline and (for dispatchers) its proposals and the engineers it could change to."""
    order = repository.get_work_order(session, actor, order_id)
    return _detail(request, session, actor, order)


def on_order(request: Request, session: Session, actor: Actor, order_id: int, action: Callable[[], Any],
              done: str, values: dict[str, Any] | None = None, back: str | None = None,
              again: Callable[..., Response] | None = None) -> Response:
    """Run one change on an order the actor can see; bad input shows the order again, or the list page `again`
    renders (the one at `back`, where a done change returns)."""
    repository.get_work_order(session, actor, order_id)  # another organization's order is a 404
    try:
        with session.begin_nested():
            action()
    except (HuobanError, ValidationError) as exc:
        if isinstance(exc, HuobanError) and exc.status_code == 404:
            raise
        message, errors, status = form_errors(request, exc)
        session.expire_all()
        if again is not None:
            return again(request, session, actor, values=values, failed=order_id, message=message, errors=errors,
                         status=status)
        order = repository.get_work_order(session, actor, order_id)
        return _detail(request, session, actor, order, values=values, message=message, errors=errors, status=status)
    return _back(f"{back}#order-{order_id}" if back else f"/dispatch/orders/{order_id}", done)


@router.post("/dispatch/orders/{order_id}/assign", response_class=HTMLResponse, dependencies=[CsrfChecked])
def assign(request: Request, session: DbSession, actor: PageActor, order_id: RowId,
           engineer_id: Short = "", note: Short = "") -> Response:
    """The dispatcher's change: another engineer than proposed (or a first one by hand)."""
    _planner(actor)

    def go() -> None:
        chosen = form_id(engineer_id, "engineer_id")
        if chosen is None:
            raise Invalid("Choose an engineer.", field="engineer_id")
        service.assign(session, actor, order_id, chosen, note.strip() or None)

    return on_order(request, session, actor, order_id, go, "assigned", {"engineer_id": engineer_id, "note": note})


@router.post("/dispatch/orders/{order_id}/cancel", response_class=HTMLResponse, dependencies=[CsrfChecked])
def cancel(request: Request, session: DbSession, actor: PageActor, order_id: RowId, reason: Short = "") -> Response:
    _planner(actor)

    def go() -> None:
        if not reason.strip():
            raise Invalid("Say why the work order is cancelled.", field="reason")
        service.cancel(session, actor, order_id, reason.strip())

    return on_order(request, session, actor, order_id, go, "cancelled", {"reason": reason})
