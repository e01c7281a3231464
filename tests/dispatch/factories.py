"""Helpers for the dispatch tests (shared by the API, page, demo and browser tests): extra actors on the
world (a dispatcher, a second partner engineer), engineers and work orders as rows or through the API, a
ticket that needs a visit, and a frozen clock for the dispatch and service-desk rules."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from huoban.dispatch import engineers as dispatch_engineers
from huoban.dispatch import service as dispatch_service
from huoban.models import (
    Calendar,
    Engineer,
    EngineerAbsence,
    EngineerCertification,
    Organization,
    Region,
    User,
    WorkOrder,
    WorkOrderEvent,
    utcnow,
)
from huoban.service_desk import routes as desk_routes
from huoban.service_desk import service as desk_service
from tests.factories import make_user, token_for
from tests.world import World

SHANGHAI = ZoneInfo("Asia/Shanghai")
ENGINEERS = "/api/v1/dispatch/engineers"
WORK_ORDERS = "/api/v1/dispatch/work-orders"
PLANS = "/api/v1/dispatch/plans"
PROPOSALS = "/api/v1/dispatch/proposals"

# Counties used throughout: two in Shandong's Weifang, one in Jinan, one in Ningbo (Zhejiang).
SHOUGUANG = "370783"  # 寿光市, Weifang
QINGZHOU = "370781"  # 青州市, Weifang
LICHENG = "370112"  # 历城区, Jinan
HAISHU = "330203"  # 海曙区, Ningbo

EXTRA_ACTORS: dict[str, tuple[str, str]] = {
    "operator_dispatcher": ("operator", "dispatcher"),
    "operator_dispatcher2": ("operator", "dispatcher"),
    "partner_a_engineer2": ("partner_a", "partner_engineer"),
    "partner_b_engineer": ("partner_b", "partner_engineer"),
}


def cst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


class FrozenTime:
    """The instant the dispatch and service-desk rules believe it is (their `utcnow`), so due times,
    availability and today's capacity do not depend on when the tests run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
        self.now = now
        for module in (dispatch_service, dispatch_engineers, desk_service, desk_routes):
            monkeypatch.setattr(module, "utcnow", lambda: self.now)

    def set(self, now: datetime) -> datetime:
        self.now = now
        return now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def add_actors(session: Session, world: World, actors: dict[str, tuple[str, str]] | None = None) -> World:
    """Add users (default: EXTRA_ACTORS) to the world with tokens; committed like the world's own."""
    for name, (org_key, role) in (actors or EXTRA_ACTORS).items():
        if name in world.users:
            continue
        user = make_user(session, world.orgs[org_key], role, email=f"{name}@world.test", display_name=name)
        world.users[name] = user
        world.tokens[name] = token_for(session, user)
    session.commit()
    return world


def calendar_id(session: Session, name: str = "24x7") -> int:
    found = session.scalar(select(Calendar.id).where(Calendar.name == name))
    assert found is not None
    return found


def make_engineer(
    session: Session, user: User, *, region_code: str = SHOUGUANG, skills: Iterable[str] = ("network",),
    regions_served: Iterable[str] = (), calendar: str = "24x7", max_orders_per_day: int = 4,
    certifications: Iterable[tuple[str, date | None]] = (), is_active: bool = True,
    absences: Iterable[tuple[datetime, datetime]] = (),
) -> Engineer:
    """An engineer row for `user`, living at the centre of `region_code`."""
    region = session.get_one(Region, region_code)
    engineer = Engineer(
        user_id=user.id, org_id=user.org_id, skills=list(skills), home_region_code=region.code,
        home_longitude=region.longitude, home_latitude=region.latitude, regions_served=list(regions_served),
        calendar_id=calendar_id(session, calendar), max_orders_per_day=max_orders_per_day, is_active=is_active,
    )
    session.add(engineer)
    session.flush()
    for name, expires in certifications:
        session.add(EngineerCertification(engineer_id=engineer.id, name=name, expires_on=expires))
    for start, end in absences:
        session.add(EngineerAbsence(engineer_id=engineer.id, kind="leave", starts_at=start, ends_at=end))
    session.flush()
    return engineer


def make_work_order(
    session: Session, customer: Organization, created_by: User, *, region_code: str = SHOUGUANG,
    title: str = "汇聚交换机故障", priority: str = "P2", skills: Iterable[str] = ("network",),
    certification: str | None = None, earliest_start_at: datetime | None = None,
    arrival_due_at: datetime | None = None, status: str = "proposed", engineer: Engineer | None = None,
    ticket_id: int | None = None, estimated_minutes: int = 120,
) -> WorkOrder:
    """A work order row (status and engineer as given, no checks), with its "created" event."""
    region = session.get_one(Region, region_code)
    now = utcnow()
    order = WorkOrder(
        ticket_id=ticket_id, customer_org_id=customer.id, title=title, kind="repair", priority=priority,
        status=status, site_region_code=region.code, site_longitude=region.longitude, site_latitude=region.latitude,
        required_skills=list(skills), required_certification=certification, estimated_minutes=estimated_minutes,
        earliest_start_at=earliest_start_at or now, arrival_due_at=arrival_due_at, created_by_id=created_by.id,
        engineer_id=engineer.id if engineer else None, assigned_org_id=engineer.org_id if engineer else None,
        assigned_at=now if engineer else None,
    )
    session.add(order)
    session.flush()
    session.add(WorkOrderEvent(work_order_id=order.id, actor_id=created_by.id, kind="created", to_value=status))
    session.flush()
    return order


# --- through the API -----------------------------------------------------------------------------------------


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def error_fields(response: Any) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


def create_engineer(client: TestClient, world: World, user: str, actor: str = "operator_dispatcher",
                    **body: Any) -> dict[str, Any]:
    payload = {"user_id": world.users[user].id, "skills": ["network"], "home_region_code": SHOUGUANG, **body}
    return ok(world.call(client, "POST", ENGINEERS, actor, json=payload), 201)


def raise_visit_ticket(client: TestClient, world: World, actor: str = "customer_a_member", **fields: Any
                       ) -> dict[str, Any]:
    """A P1 ticket that needs an engineer on site in Shouguang."""
    body = {"title": "县政务外网核心交换机宕机", "description": "寿光市政务服务中心机房核心交换机无法启动。",
            "priority": "P1", "on_site_required": True, "site_region_code": SHOUGUANG,
            "site_address": "山东省潍坊市寿光市文圣街 88 号", **fields}
    return ok(world.call(client, "POST", "/api/v1/tickets", actor, json=body), 201)


def create_order(client: TestClient, world: World, actor: str = "operator_dispatcher", **body: Any
                 ) -> dict[str, Any]:
    return ok(world.call(client, "POST", WORK_ORDERS, actor, json=body), 201)


def run_plan(client: TestClient, world: World, actor: str = "operator_dispatcher") -> dict[str, Any]:
    return ok(world.call(client, "POST", PLANS, actor), 201)


def proposal_for(plan: dict[str, Any], order_id: int) -> dict[str, Any]:
    [found] = [p for p in plan["proposals"] if p["work_order_id"] == order_id]
    return found


def act(client: TestClient, world: World, order_id: int, step: str, actor: str, status: int = 200,
        **body: Any) -> Any:
    """POST a work-order step (accept, start-travel, check-in, check-out, confirm, cancel, assign)."""
    response = world.call(client, "POST", f"{WORK_ORDERS}/{order_id}/{step}", actor, json=body or None)
    assert response.status_code == status, response.text
    return response.json()
