"""HTML pages of the visit itself: the engineer's phone page (/my/orders) and the customer's visits (/visits).

Built from the helpers of `pages` and kept to its conventions: the engineer sees the orders assigned to him, the
customer the orders `readable` gives; each change goes through `field` inside a savepoint, a failed post shows
the list again with the message and a done one sends the browser back (303) to the order's row with `?done=...`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import case, select
from sqlalchemy.orm import Session

from huoban.deps import DbSession
from huoban.dispatch import field, repository
from huoban.dispatch.pages import RowId, Short, Text, my_engineer, on_order, order_names, page_response
from huoban.dispatch.schemas import CheckOutIn, ConfirmIn
from huoban.errors import Invalid, NotFound
from huoban.identity.actor import Actor
from huoban.models import ACTIVE_ORDER_STATES, WorkOrder
from huoban.web.pages import CsrfChecked, PageActor

router = APIRouter(include_in_schema=False)


# --- the engineer's phone page ---------------------------------------------------------------------


def _my_orders(request: Request, session: Session, actor: Actor, *, values: dict[str, Any] | None = None,
               failed: int | None = None, message: str | None = None, errors: dict[str, str] | None = None,
               status: int = 200) -> Response:
    engineer = my_engineer(session, actor)
    orders: list[WorkOrder] = []
    recent: list[WorkOrder] = []
    if engineer is not None:
        orders = list(session.scalars(
            select(WorkOrder).where(WorkOrder.engineer_id == engineer.id, WorkOrder.status.in_(ACTIVE_ORDER_STATES))
            .order_by(WorkOrder.planned_arrival_at, WorkOrder.id)
        ))
        recent = list(session.scalars(
            select(WorkOrder).where(WorkOrder.engineer_id == engineer.id, WorkOrder.status == "done")
            .order_by(WorkOrder.checked_out_at.desc()).limit(10)
        ))
    return page_response(request, "dispatch/my_orders.html", {
        "engineer": engineer, "orders": orders, "recent": recent, **order_names(session, orders + recent),
        "values": values or {}, "failed": failed, "message": message, "errors": errors or {},
    }, status_code=status)


def _field_worker(actor: Actor) -> None:
    """Engineers are the operator's or a partner's people; customers have no such page."""
    if actor.is_customer:
        raise NotFound("Work order not found.")


@router.get("/my/orders", response_class=HTMLResponse)
def my_orders(request: Request, session: DbSession, actor: PageActor) -> Response:
    """Today's and coming orders of the signed-in engineer, one column, big buttons."""
    _field_worker(actor)
    return _my_orders(request, session, actor)


def _engineer_step(step: str) -> Callable[..., Response]:
    def handler(request: Request, session: DbSession, actor: PageActor, order_id: RowId) -> Response:
        _field_worker(actor)
        action = getattr(field, step)
        return on_order(request, session, actor, order_id, lambda: action(session, actor, order_id), step,
                         back="/my/orders", again=_my_orders)

    handler.__name__ = f"my_order_{step}"
    return handler


for _path, _step in (("accept", "engineer_accept"), ("travel", "start_travel"), ("check-in", "check_in")):
    router.add_api_route(f"/my/orders/{{order_id}}/{_path}", _engineer_step(_step), methods=["POST"],
                         response_class=HTMLResponse, dependencies=[CsrfChecked])


@router.post("/my/orders/{order_id}/check-out", response_class=HTMLResponse, dependencies=[CsrfChecked])
def check_out(request: Request, session: DbSession, actor: PageActor, order_id: RowId, notes: Text = "") -> Response:
    """Leave the site with the work notes (required: the customer confirms against them)."""
    _field_worker(actor)

    def go() -> None:
        data = CheckOutIn(notes=notes.strip())
        field.check_out(session, actor, order_id, data.notes)

    return on_order(request, session, actor, order_id, go, "check_out", {"notes": notes}, back="/my/orders",
                     again=_my_orders)


# --- the customer's visits -------------------------------------------------------------------------


def _visits(request: Request, session: Session, actor: Actor, *, values: dict[str, Any] | None = None,
            failed: int | None = None, message: str | None = None, errors: dict[str, str] | None = None,
            status: int = 200) -> Response:
    stmt = repository.readable(select(WorkOrder), actor).where(WorkOrder.status != "cancelled")
    order_by = [case((WorkOrder.status == "done", case((WorkOrder.confirmed_at.is_(None), 0), else_=2)), else_=1),
                WorkOrder.planned_arrival_at.desc(), WorkOrder.id.desc()]
    orders = list(session.scalars(stmt.order_by(*order_by).limit(200)))
    return page_response(request, "dispatch/visits.html", {
        "orders": orders, **order_names(session, orders), "values": values or {}, "failed": failed,
        "message": message, "errors": errors or {},
    }, status_code=status)


@router.get("/visits", response_class=HTMLResponse)
def visits(request: Request, session: DbSession, actor: PageActor) -> Response:
    """The customer's organization's visits: who comes when, check-in and check-out, and confirmation."""
    if actor.is_operator:
        return RedirectResponse("/dispatch", status_code=303)
    if not actor.is_customer:
        raise NotFound("Work order not found.")
    return _visits(request, session, actor)


@router.post("/visits/{order_id}/confirm", response_class=HTMLResponse, dependencies=[CsrfChecked])
def confirm(request: Request, session: DbSession, actor: PageActor, order_id: RowId,
            rating: Short = "", comment: Text = "") -> Response:
    if not actor.is_customer:
        raise NotFound("Work order not found.")

    def go() -> None:
        number = int(rating) if rating.strip().isdigit() else 0
        if not 1 <= number <= 5:
            raise Invalid("Choose from one to five stars.", field="rating")
        data = ConfirmIn(rating=number, comment=comment.strip() or None)
        field.confirm_visit(session, actor, order_id, data.rating, data.comment)

    return on_order(request, session, actor, order_id, go, "confirmed", {"rating": rating, "comment": comment},
                     back="/visits", again=_visits)
