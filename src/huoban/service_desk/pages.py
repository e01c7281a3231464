"""HTML pages of the service desk: the customer portal (/tickets) and the agent workspace (/desk).

Both read through the repository's `readable` scoping and change tickets only through the service, each
form post inside a savepoint: bad input rolls the savepoint back and re-renders the page with the message.
Actions on one ticket post to /tickets/{id}/... for customers and agents alike; the answer goes back
to the page the actor works on (the portal or the desk).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from huoban.deps import DbSession
from huoban.dispatch import views as dispatch_views
from huoban.dispatch.pages import LABELS as DISPATCH_LABELS
from huoban.errors import Forbidden, HuobanError, Invalid, NotFound
from huoban.identity import repository as identity_repository
from huoban.identity.actor import Actor
from huoban.models import Organization, OrgKind, Region, SlaPolicy, Ticket, User, utcnow
from huoban.service_desk import repository, service
from huoban.service_desk.schemas import CommentIn, RatingIn, TicketCreate, TicketUpdate, TransitionIn
from huoban.sla import clocks as clock_rules
from huoban.sla.store import work_calendar
from huoban.web.forms import MAX_ID, by_id, form_errors, form_id, query_id, regions_by_code
from huoban.web.i18n import gettext_for, translate_error
from huoban.web.labels import N_
from huoban.web.pages import CsrfChecked, PageActor
from huoban.web.render import render, request_locale

router = APIRouter(include_in_schema=False)

STATUSES = ("new", "acknowledged", "in_progress", "waiting_customer", "resolved", "closed")
PRIORITIES = ("P1", "P2", "P3", "P4")
CATEGORIES = ("incident", "fault", "service_request", "change", "consultation", "complaint")
PER_PAGE = 50
REGION_PREFIX = re.compile(r"^\d{2}(\d{2}){0,2}$")
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]

# Labels built at run time in the templates (`_("status:" ~ t.status)`), spelled out for Babel.
_LABELS = [
    N_("Tickets"), N_("Service desk"),
    N_("status:new"), N_("status:acknowledged"), N_("status:in_progress"), N_("status:waiting_customer"),
    N_("status:resolved"), N_("status:closed"),
    N_("category:incident"), N_("category:fault"), N_("category:service_request"), N_("category:change"),
    N_("category:consultation"), N_("category:complaint"),
    N_("metric:first_response"), N_("metric:resolution"), N_("metric:on_site"),
    N_("clock:running"), N_("clock:paused"), N_("clock:met"), N_("clock:breached"), N_("clock:stopped"),
    N_("channel:portal"), N_("channel:api"), N_("channel:phone"), N_("channel:email"),
]


# --- clocks as people read them -----------------------------------------------------------------


@dataclass
class ClockShow:
    """One metric's current clock: its state, the colour it is shown in and the working time left."""

    metric: str
    cycle: int
    target_seconds: int
    due_at: datetime | None
    met_at: datetime | None
    state: str  # running | paused | met | breached | stopped
    tone: str  # ok (green) | low (amber, under 25 % left) | late (red) | paused (grey) | met (blue) | stopped
    seconds_left: int | None


def _tone(state: str, left: int | None, target: int) -> str:
    if state == "running":
        return "low" if left is not None and target and left < target / 4 else "ok"
    return {"breached": "late"}.get(state, state)


def clocks_for(session: Session, ticket_ids: list[int]) -> dict[int, list[ClockShow]]:
    now = utcnow()
    out: dict[int, list[ClockShow]] = {i: [] for i in ticket_ids}
    for clock in repository.ticket_clocks(session, ticket_ids):
        seen = clock_rules.view(clock, work_calendar(session, clock.calendar_id), now)
        out[clock.ticket_id].append(ClockShow(
            clock.metric, clock.cycle, clock.target_seconds, clock.due_at, clock.met_at, seen.state,
            _tone(seen.state, seen.seconds_left, clock.target_seconds), seen.seconds_left,
        ))
    for shows in out.values():
        shows.sort(key=lambda c: clock_rules.METRICS.index(c.metric))
    return out


def _span(_: Any, seconds: int | None) -> str:
    """Working time as hours and minutes, e.g. "3 小时 20 分钟"."""
    minutes = abs(int(seconds or 0)) // 60
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return str(_("%(h)s h %(m)s min", h=hours, m=minutes))
    if hours:
        return str(_("%(h)s h", h=hours))
    return str(_("%(m)s min", m=minutes))


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    _ = gettext_for(request_locale(request))
    return render(request, name, {"span": lambda seconds: _span(_, seconds), **context}, status_code=status_code)





# --- who may use which side -----------------------------------------------------------------------


def _customer(actor: Actor) -> None:
    """The portal is the customers'; agents work on the desk, partners see no tickets here."""
    if not actor.is_customer:
        raise NotFound("Ticket not found.")


def _agent(actor: Actor) -> None:
    if not actor.is_operator:
        raise NotFound("Ticket not found.")
    if not service.is_agent(actor):
        raise Forbidden("The service desk is for the provider's agents, dispatchers and account managers.")


def ticket_url(actor: Actor, ticket_id: int) -> str:
    return f"/desk/tickets/{ticket_id}" if actor.is_operator else f"/tickets/{ticket_id}"





def _agents(session: Session) -> list[User]:
    """The operator's active users who may take tickets."""
    return list(session.scalars(
        select(User).join(Organization, Organization.id == User.org_id)
        .where(Organization.kind == OrgKind.operator, User.role.in_([str(r) for r in service.AGENT_ROLES]),
               User.is_active.is_(True))
        .order_by(User.display_name)
    ))


def _customers(session: Session, actor: Actor) -> list[Organization]:
    rows, _total = identity_repository.list_orgs(session, actor, kind=OrgKind.customer, limit=1000)
    return [o for o in rows if o.is_active]


# --- lists: the portal's and the desk queue ------------------------------------------------------


def _list_context(session: Session, rows: list[Ticket]) -> dict[str, Any]:
    ids = [t.id for t in rows]
    return {
        "tickets": rows, "clocks": clocks_for(session, ids),
        "orgs": by_id(session, Organization, {t.customer_org_id for t in rows}),
        "people": by_id(session, User, {t.assignee_id for t in rows}),
        "regions": regions_by_code(session, {t.site_region_code for t in rows}),
    }


@router.get("/tickets", response_class=HTMLResponse)
def portal(
    request: Request, session: DbSession, actor: PageActor,
    status: Annotated[str, Query(max_length=20)] = "", page: Annotated[int, Query(ge=1, le=10000)] = 1,
) -> Response:
    """The customer's organization's tickets, newest first; `status=open` or `status=done` narrows them."""
    if actor.is_operator:
        return RedirectResponse("/desk", status_code=303)
    _customer(actor)
    f = repository.TicketFilter(open_only=status == "open")
    if status == "done":
        f.status = ["resolved", "closed"]
    rows, total = repository.list_tickets(session, actor, f, limit=PER_PAGE, offset=(page - 1) * PER_PAGE,
                                          order="newest")
    return _page(request, "tickets/portal.html", {
        **_list_context(session, rows), "total": total, "status": status, "page": page, "per_page": PER_PAGE,
    })


@dataclass
class Queue:
    """The desk's filters as given in the query string."""

    customer: str = ""
    region: str = ""
    priority: str = ""
    assignee: str = ""
    status: str = "open"
    q: str = ""
    page: int = 1

    def query(self) -> str:
        return urlencode({k: v for k, v in vars(self).items() if k != "page"})


def _queue(request: Request, session: Session, actor: Actor, qs: Queue) -> dict[str, Any]:
    f = repository.TicketFilter(open_only=qs.status == "open")
    problem = None
    if qs.status in STATUSES:
        f.status = [qs.status]
    if qs.priority in PRIORITIES:
        f.priority = qs.priority
    f.customer_org_id = query_id(qs.customer)
    f.assignee_id = actor.user_id if qs.assignee == "mine" else query_id(qs.assignee)
    region = None
    if qs.region:
        if REGION_PREFIX.fullmatch(qs.region):
            f.region_code = qs.region
            region = session.get(Region, qs.region.ljust(6, "0"))
        else:
            problem = translate_error(request_locale(request),
                                      "A region filter is a 2-, 4- or 6-digit division code.", {})
    f.q = qs.q.strip() or None
    rows, total = repository.list_tickets(session, actor, f, limit=PER_PAGE, offset=(qs.page - 1) * PER_PAGE,
                                          order="urgency")
    return {**_list_context(session, rows), "total": total, "qs": qs, "region": region, "problem": problem,
            "per_page": PER_PAGE}


QueueText = Annotated[str, Query(max_length=100)]


def _queue_params(
    customer: QueueText = "", region: QueueText = "", priority: QueueText = "", assignee: QueueText = "",
    status: QueueText = "open", q: QueueText = "", page: Annotated[int, Query(ge=1, le=10000)] = 1,
) -> Queue:
    return Queue(customer.strip(), region.strip(), priority, assignee, status, q, page)


QueueQuery = Annotated[Queue, Depends(_queue_params)]


@router.get("/desk", response_class=HTMLResponse)
def desk(request: Request, session: DbSession, actor: PageActor, qs: QueueQuery) -> Response:
    """The queue: open tickets by default, least working time left first, refreshed every minute."""
    _agent(actor)
    return _page(request, "tickets/desk.html", {
        **_queue(request, session, actor, qs), "customers": _customers(session, actor), "agents": _agents(session),
        "statuses": STATUSES, "priorities": PRIORITIES,
    })


@router.get("/desk/queue", response_class=HTMLResponse)
def desk_queue(request: Request, session: DbSession, actor: PageActor, qs: QueueQuery) -> Response:
    """The queue table alone, for the desk's htmx refresh (always 200: htmx does not swap 4xx)."""
    _agent(actor)
    return _page(request, "tickets/_queue.html", _queue(request, session, actor, qs))


# --- raising a ticket --------------------------------------------------------------------------------


def _new_form(request: Request, session: Session, actor: Actor, values: dict[str, Any], *, message: str | None = None,
              errors: dict[str, str] | None = None, status: int = 200) -> Response:
    desk_side = actor.is_operator
    context: dict[str, Any] = {
        "values": values, "errors": errors or {}, "message": message, "desk": desk_side,
        "categories": CATEGORIES, "priorities": PRIORITIES,
        "site_region": regions_by_code(session, {values.get("site_region_code")}).get(
            values.get("site_region_code") or ""),
    }
    if desk_side:
        context["customers"] = _customers(session, actor)
        org_id = query_id(str(values.get("customer_org_id") or ""))
        context["callers"] = _callers(session, actor, org_id) if org_id else []
    return _page(request, "tickets/new.html", context, status_code=status)


def _callers(session: Session, actor: Actor, org_id: int) -> list[User]:
    rows, _total = identity_repository.list_users(session, actor, org_id=org_id, limit=500)
    return [u for u in rows if u.is_active]


@router.get("/tickets/new", response_class=HTMLResponse)
def new_ticket_form(request: Request, session: DbSession, actor: PageActor) -> Response:
    if actor.is_operator:
        return RedirectResponse("/desk/new", status_code=303)
    _customer(actor)
    return _new_form(request, session, actor, {"priority": "P3", "category": "incident"})


@router.get("/desk/new", response_class=HTMLResponse)
def desk_new_form(request: Request, session: DbSession, actor: PageActor) -> Response:
    _agent(actor)
    return _new_form(request, session, actor, {"priority": "P3", "category": "incident", "channel": "phone"})


@router.get("/desk/new/callers", response_class=HTMLResponse)
def desk_callers(
    request: Request, session: DbSession, actor: PageActor, customer_org_id: Annotated[str, Query(max_length=12)] = "",
) -> Response:
    """The options of the caller select for the chosen customer (htmx)."""
    _agent(actor)
    org_id = query_id(customer_org_id)
    callers = _callers(session, actor, org_id) if org_id else []
    return _page(request, "tickets/_callers.html", {"callers": callers, "values": {}})


def _raise(
    request: Request, session: Session, actor: Actor, values: dict[str, Any], file: UploadFile | None,
) -> Response:
    try:
        with session.begin_nested():
            data = TicketCreate(
                title=values["title"], description=values["description"], category=values["category"] or "incident",
                priority=values["priority"] or "P3", site_region_code=values["site_region_code"] or None,
                site_address=values["site_address"] or None, on_site_required=bool(values["on_site_required"]),
                customer_org_id=form_id(values.get("customer_org_id", ""), "customer_org_id"),
                raised_by_id=form_id(values.get("raised_by_id", ""), "raised_by_id"),
                channel=values.get("channel") or None,
            )
            ticket = service.open_ticket(session, actor, data, channel="portal")
            if file is not None and file.filename:
                body = file.file.read(service.MAX_ATTACHMENT_BYTES + 1)
                service.add_attachment(session, actor, ticket.id, file.filename, file.content_type or "", body)
    except (HuobanError, ValidationError) as exc:
        message, errors, status = form_errors(request, exc)
        return _new_form(request, session, actor, values, message=message, errors=errors, status=status)
    return RedirectResponse(ticket_url(actor, ticket.id), status_code=303)


Text = Annotated[str, Form(max_length=20000)]
Short = Annotated[str, Form(max_length=300)]


@router.post("/tickets/new", response_class=HTMLResponse, dependencies=[CsrfChecked])
def raise_ticket(
    request: Request, session: DbSession, actor: PageActor,
    title: Short = "", description: Text = "", category: Short = "", priority: Short = "",
    site_region_code: Short = "", site_address: Short = "", on_site_required: Short = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    _customer(actor)
    values = {"title": title, "description": description, "category": category, "priority": priority,
              "site_region_code": site_region_code.strip(), "site_address": site_address,
              "on_site_required": on_site_required}
    return _raise(request, session, actor, values, file)


@router.post("/desk/new", response_class=HTMLResponse, dependencies=[CsrfChecked])
def raise_on_behalf(
    request: Request, session: DbSession, actor: PageActor,
    customer_org_id: Short = "", raised_by_id: Short = "", channel: Short = "phone",
    title: Short = "", description: Text = "", category: Short = "", priority: Short = "",
    site_region_code: Short = "", site_address: Short = "", on_site_required: Short = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """An agent raises a ticket for a customer who called (or wrote)."""
    _agent(actor)
    values = {"customer_org_id": customer_org_id, "raised_by_id": raised_by_id, "channel": channel or "phone",
              "title": title, "description": description, "category": category, "priority": priority,
              "site_region_code": site_region_code.strip(), "site_address": site_address,
              "on_site_required": on_site_required}
    return _raise(request, session, actor, values, file)


# --- one ticket ------------------------------------------------------------------------------------


CUSTOMER_MOVES = {"resolved": ("closed", "in_progress"), "closed": ("in_progress",)}


def _detail(
    request: Request, session: Session, actor: Actor, ticket: Ticket, *, values: dict[str, Any] | None = None,
    message: str | None = None, errors: dict[str, str] | None = None, notice: str | None = None, status: int = 200,
) -> Response:
    events = repository.ticket_events(session, actor, ticket)
    attachments = repository.ticket_attachments(session, actor, ticket)
    people = by_id(session, User, {e.actor_id for e in events} | {ticket.raised_by_id, ticket.created_by_id,
                                                               ticket.assignee_id})
    people.update(by_id(session, User, {int(e.to_value) for e in events
                                    if e.kind == "assignee" and e.to_value and e.to_value.isdigit()}))
    desk_side = actor.is_operator
    clocks = clocks_for(session, [ticket.id])[ticket.id]
    context: dict[str, Any] = {
        "ticket": ticket, "events": events, "attachments": attachments,
        "by_event": {a.event_id: a for a in attachments if a.event_id is not None},
        "people": people,
        "orgs": by_id(session, Organization, {u.org_id for u in people.values()} | {ticket.customer_org_id}),
        "customer": session.get(Organization, ticket.customer_org_id),
        "region": regions_by_code(session, {ticket.site_region_code}).get(ticket.site_region_code or ""),
        "policy": session.get(SlaPolicy, ticket.sla_policy_id), "clocks": clocks, "desk": desk_side,
        "visits": dispatch_views.ticket_visits(session, actor, ticket.id), "visit_status": DISPATCH_LABELS.status,
        "values": values or {}, "errors": errors or {}, "message": message, "notice": notice,
    }
    if desk_side:
        context["moves"] = [s for s in STATUSES if s in service.TRANSITIONS.get(ticket.status, set())]
        context["agents"] = _agents(session)
        context["priorities"] = PRIORITIES
        context["can_arrive"] = ticket.on_site_required and any(
            c.metric == "on_site" and c.met_at is None and c.state != "stopped" for c in clocks)
    else:
        context["moves"] = list(CUSTOMER_MOVES.get(ticket.status, ()))
    return _page(request, "tickets/detail.html", context, status_code=status)


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
def ticket_page(request: Request, session: DbSession, actor: PageActor, ticket_id: RowId) -> Response:
    if actor.is_operator:
        return RedirectResponse(f"/desk/tickets/{ticket_id}", status_code=303)
    _customer(actor)
    return _detail(request, session, actor, repository.get_ticket(session, actor, ticket_id))


@router.get("/desk/tickets/{ticket_id}", response_class=HTMLResponse)
def desk_ticket_page(request: Request, session: DbSession, actor: PageActor, ticket_id: RowId) -> Response:
    _agent(actor)
    return _detail(request, session, actor, repository.get_ticket(session, actor, ticket_id))


def _act(request: Request, session: Session, actor: Actor, ticket_id: int, values: dict[str, Any],
         action: Any, anchor: str = "") -> Response:
    """Run one change on a ticket the actor can see; on bad input show the ticket again, unchanged."""
    repository.get_ticket(session, actor, ticket_id)  # another customer's ticket is a 404 page
    if actor.is_operator:
        _agent(actor)
    try:
        with session.begin_nested():
            action()
    except (HuobanError, ValidationError) as exc:
        message, errors, status = form_errors(request, exc)
        session.expire_all()
        ticket = repository.get_ticket(session, actor, ticket_id)
        return _detail(request, session, actor, ticket, values=values, message=message, errors=errors,
                       status=status)
    return RedirectResponse(ticket_url(actor, ticket_id) + anchor, status_code=303)


@router.post("/tickets/{ticket_id}/reply", response_class=HTMLResponse, dependencies=[CsrfChecked])
def reply(
    request: Request, session: DbSession, actor: PageActor, ticket_id: RowId,
    body: Text = "", visibility: Short = "public",
) -> Response:
    """A public reply, or (provider only) an internal note."""
    public = visibility != "internal"
    return _act(request, session, actor, ticket_id, {"body": body, "visibility": visibility},
                lambda: service.comment(session, actor, ticket_id, CommentIn(body=body, public=public)), "#timeline")


@router.post("/tickets/{ticket_id}/status", response_class=HTMLResponse, dependencies=[CsrfChecked])
def move(
    request: Request, session: DbSession, actor: PageActor, ticket_id: RowId,
    status: Short = "", comment: Text = "",
) -> Response:
    def go() -> None:
        service.transition(session, actor, ticket_id, TransitionIn(status=status, comment=comment or None))

    return _act(request, session, actor, ticket_id, {"status_comment": comment}, go)


@router.post("/tickets/{ticket_id}/rating", response_class=HTMLResponse, dependencies=[CsrfChecked])
def rate(
    request: Request, session: DbSession, actor: PageActor, ticket_id: RowId,
    score: Short = "", comment: Text = "",
) -> Response:
    def go() -> None:
        number = form_id(score, "score")
        if number is None:
            raise Invalid("Choose from one to five stars.", field="score")
        service.rate(session, actor, ticket_id, RatingIn(score=number, comment=comment or None))

    return _act(request, session, actor, ticket_id, {"score": score, "csat_comment": comment}, go, "#rating")


@router.post("/tickets/{ticket_id}/attachments", response_class=HTMLResponse, dependencies=[CsrfChecked])
def attach(
    request: Request, session: DbSession, actor: PageActor, ticket_id: RowId,
    file: Annotated[UploadFile | None, File()] = None, internal: Short = "",
) -> Response:
    """Up to 10 MB (app.py lets this path through the body limit); the service checks size and type."""
    def go() -> None:
        if file is None or not file.filename:
            raise Invalid("Choose a file to attach.", field="file")
        data = file.file.read(service.MAX_ATTACHMENT_BYTES + 1)
        service.add_attachment(session, actor, ticket_id, file.filename, file.content_type or "", data,
                               public=not internal)

    return _act(request, session, actor, ticket_id, {}, go, "#attachments")


@router.get("/tickets/{ticket_id}/attachments/{attachment_id}")
def download(session: DbSession, actor: PageActor, ticket_id: RowId, attachment_id: RowId) -> Response:
    """The file as stored, always as a download (never rendered inline on this site)."""
    att = service.get_attachment(session, actor, ticket_id, attachment_id)
    return Response(att.data, media_type=att.content_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(att.filename)}",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
    })


@router.post("/desk/tickets/{ticket_id}/update", response_class=HTMLResponse, dependencies=[CsrfChecked])
def change(
    request: Request, session: DbSession, actor: PageActor, ticket_id: RowId,
    priority: Short = "", assignee_id: Short = "",
) -> Response:
    """Priority and assignee; only what differs from the ticket is sent to the service."""
    _agent(actor)
    ticket = repository.get_ticket(session, actor, ticket_id)

    def go() -> None:
        changes: dict[str, Any] = {}
        if priority and priority != ticket.priority:
            changes["priority"] = priority
        assignee = form_id(assignee_id, "assignee_id")
        if assignee != ticket.assignee_id:
            changes["assignee_id"] = assignee
        if changes:
            service.update_ticket(session, actor, ticket_id, TicketUpdate(**changes))

    return _act(request, session, actor, ticket_id, {"priority": priority, "assignee_id": assignee_id}, go)


@router.post("/desk/tickets/{ticket_id}/arrival", response_class=HTMLResponse, dependencies=[CsrfChecked])
def arrival(request: Request, session: DbSession, actor: PageActor, ticket_id: RowId) -> Response:
    """The engineer is on site: meets the on-site clock now."""
    _agent(actor)
    return _act(request, session, actor, ticket_id, {},
                lambda: service.record_arrival(session, actor, ticket_id), "#clocks")
