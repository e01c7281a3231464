"""Dispatch pages through the HTML forms: the board, a work order, a new order from a ticket, the engineer's
phone page and the customer's visits; who may see which, CSRF and bad input shown again."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huoban.config import get_settings
from huoban.dispatch import field, orders, service
from huoban.dispatch.schemas import WorkOrderCreate
from huoban.identity.service import actor_for
from huoban.models import (
    AuditEntry,
    Calendar,
    DispatchPlan,
    DispatchProposal,
    Engineer,
    Organization,
    Region,
    SlaClock,
    User,
    WorkOrder,
    WorkOrderEvent,
    utcnow,
)
from huoban.service_desk import service as desk
from huoban.service_desk.schemas import TicketCreate, TicketUpdate
from huoban.web.i18n import format_instant
from tests.factories import make_user
from tests.pages import sign_in
from tests.world import World


def act(db: Session, user: User) -> Any:
    return actor_for(user, db.get_one(Organization, user.org_id))


def as_user(client: TestClient, user: User) -> str:
    client.cookies.clear()
    return sign_in(client, user.email)


def make_engineer(db: Session, user: User, region_code: str = "330203", skills: tuple[str, ...] = ("network",),
                  ) -> Engineer:
    region = db.get_one(Region, region_code)
    calendar = db.scalar(select(Calendar).where(Calendar.name == "24x7"))
    assert calendar is not None
    engineer = Engineer(user_id=user.id, org_id=user.org_id, skills=list(skills), home_region_code=region.code,
                        home_longitude=region.longitude, home_latitude=region.latitude, regions_served=[],
                        calendar_id=calendar.id, max_orders_per_day=4, is_active=True)
    db.add(engineer)
    db.flush()
    return engineer


@pytest.fixture
def scene(db: Session, world: World) -> dict[str, Any]:
    """A dispatcher, an engineer of partner A in 宁波 and one of partner B in 济南, and an open order of
    customer A in 宁波北仑 due in four hours."""
    dispatcher = make_user(db, world.orgs["operator"], "dispatcher", email="dispatcher@world.test",
                           display_name="调度员陈")
    engineer_a = make_engineer(db, world.users["partner_a_engineer"], "330203")
    other = make_user(db, world.orgs["partner_b"], "partner_engineer", email="engineer_b@world.test",
                      display_name="乙伙伴工程师")
    engineer_b = make_engineer(db, other, "370102")
    now = utcnow()
    order = orders.create_work_order(db, act(db, dispatcher), WorkOrderCreate(
        customer_org_id=world.orgs["customer_a"].id, site_region_code="330206", site_address="北仑区新碶街道 1 号",
        title="卡口相机离线", kind="repair", priority="P2", required_skills=["network"],
        arrival_due_at=now + timedelta(hours=4),
    ))
    db.commit()
    return {"dispatcher": dispatcher, "engineer_a": engineer_a, "engineer_b": engineer_b, "other": other,
            "order": order}


def count(db: Session, model: Any) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def assign_to(db: Session, scene: dict[str, Any], engineer: Engineer | None = None) -> WorkOrder:
    order = service.assign(db, act(db, scene["dispatcher"]), scene["order"].id,
                           (engineer or scene["engineer_a"]).id, None)
    db.commit()
    return order


# --- the board ---------------------------------------------------------------------------------------


def test_the_board_is_for_dispatch_staff_and_the_partners_own_orders(client, world, db, scene):
    order = scene["order"]
    as_user(client, scene["dispatcher"])
    page = client.get("/dispatch")
    assert page.status_code == 200
    assert f'id="order-{order.id}"' in page.text and "卡口相机离线" in page.text
    assert 'id="plan"' in page.text and 'href="/dispatch/coverage"' in page.text
    assert 'class="countdown tone-ok"' in page.text  # due in four hours

    as_user(client, world.users["operator_agent"])
    page = client.get("/dispatch")
    assert page.status_code == 200 and "卡口相机离线" in page.text
    assert 'id="plan"' not in page.text  # agents read the board, dispatchers plan

    as_user(client, world.users["partner_a_admin"])
    assert client.get("/dispatch").status_code == 200
    assert "卡口相机离线" not in client.get("/dispatch").text  # not assigned to this partner (yet)
    assert client.get(f"/dispatch/orders/{order.id}").status_code == 404
    assign_to(db, scene)
    assert "卡口相机离线" in client.get("/dispatch").text
    assert client.get(f"/dispatch/orders/{order.id}").status_code == 200
    assert 'id="plan"' not in client.get("/dispatch").text

    as_user(client, world.users["partner_b_admin"])
    assert "卡口相机离线" not in client.get("/dispatch").text
    assert client.get(f"/dispatch/orders/{order.id}").status_code == 404

    for name in ("customer_a_admin", "partner_a_engineer"):
        as_user(client, world.users[name])
        assert client.get("/dispatch").status_code == 404, name
    as_user(client, world.users["operator_system_admin"])
    assert client.get("/dispatch").status_code == 403
    client.cookies.clear()
    assert client.get("/dispatch", follow_redirects=False).headers["location"] == "/login?next=/dispatch"


def test_plan_then_accept_the_proposal_with_one_click(client, world, db, scene):
    order = scene["order"]
    csrf = as_user(client, scene["dispatcher"])
    r = client.post("/dispatch/plan", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/dispatch?done=planned"
    proposal = db.scalar(select(DispatchProposal).where(DispatchProposal.work_order_id == order.id,
                                                        DispatchProposal.status == "pending"))
    assert proposal is not None and proposal.engineer_id == scene["engineer_a"].id  # 宁波, not 济南
    page = client.get(r.headers["location"])
    assert 'class="alert alert-ok"' in page.text
    card = page.text[page.text.index(f'id="proposal-{proposal.id}"'):]
    assert "partner_a_engineer" in card and "甲伙伴" in card  # the engineer and his organization
    assert 'data-on-time="yes"' in card and " km" in card
    assert "乙伙伴工程师" in card  # the runner-up
    assert f'action="/dispatch/proposals/{proposal.id}/accept"' in card

    r = client.post(f"/dispatch/proposals/{proposal.id}/accept", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/dispatch?done=accepted"
    db.expire_all()
    assert (order.status, order.engineer_id) == ("assigned", scene["engineer_a"].id)
    page = client.get("/dispatch")
    assert f'id="order-{order.id}"' not in page.text  # no longer open
    assert re.search(rf'<tr data-order="{order.id}">', page.text)  # among the assigned
    again = client.post(f"/dispatch/proposals/{proposal.id}/accept", data={"csrf_token": csrf})
    assert again.status_code == 409 and 'class="alert alert-error"' in again.text


def test_reject_then_change_to_another_engineer(client, world, db, scene):
    order = scene["order"]
    csrf = as_user(client, scene["dispatcher"])
    client.post("/dispatch/plan", data={"csrf_token": csrf})
    proposal = db.scalar(select(DispatchProposal).where(DispatchProposal.work_order_id == order.id))
    r = client.post(f"/dispatch/proposals/{proposal.id}/reject", data={"csrf_token": csrf, "note": "客户要求换人"},
                    follow_redirects=False)
    assert r.status_code == 303
    db.expire_all()
    assert (proposal.status, proposal.decision_note) == ("rejected", "客户要求换人")

    page = client.get(f"/dispatch/orders/{order.id}")
    assert page.status_code == 200
    assert f'data-candidate="{scene["engineer_a"].id}"' in page.text
    assert f'data-candidate="{scene["engineer_b"].id}"' in page.text
    bad = client.post(f"/dispatch/orders/{order.id}/assign", data={"csrf_token": csrf, "engineer_id": "x"})
    assert bad.status_code == 422 and 'class="field-error"' in bad.text
    assert client.post(f"/dispatch/orders/{order.id}/assign", data={"csrf_token": csrf}).status_code == 422
    r = client.post(f"/dispatch/orders/{order.id}/assign",
                    data={"csrf_token": csrf, "engineer_id": str(scene["engineer_b"].id), "note": "熟悉该站点"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/dispatch/orders/{order.id}?done=assigned"
    db.expire_all()
    assert (order.status, order.engineer_id) == ("assigned", scene["engineer_b"].id)
    page = client.get(r.headers["location"])
    assert "熟悉该站点" in page.text and 'data-kind="assigned"' in page.text


def test_agents_and_partners_cannot_decide(client, world, db, scene):
    order = scene["order"]
    service.plan_round(db, act(db, scene["dispatcher"]))
    db.commit()
    proposal = db.scalar(select(DispatchProposal).where(DispatchProposal.work_order_id == order.id))
    csrf = as_user(client, world.users["operator_agent"])
    assert client.post("/dispatch/plan", data={"csrf_token": csrf}).status_code == 403
    assert client.post(f"/dispatch/proposals/{proposal.id}/accept", data={"csrf_token": csrf}).status_code == 403
    csrf = as_user(client, world.users["partner_a_admin"])
    assert client.post(f"/dispatch/proposals/{proposal.id}/accept", data={"csrf_token": csrf}).status_code == 404
    assert client.post(f"/dispatch/orders/{order.id}/assign",
                       data={"csrf_token": csrf, "engineer_id": str(scene["engineer_a"].id)}).status_code == 404
    as_user(client, scene["dispatcher"])
    before = count(db, WorkOrderEvent)
    assert client.post(f"/dispatch/proposals/{proposal.id}/accept").status_code == 403  # no CSRF token
    assert count(db, WorkOrderEvent) == before
    db.expire_all()
    assert order.status == "proposed"


# --- a work order from a ticket ----------------------------------------------------------------------


def make_ticket(db: Session, world: World, **fields: Any) -> Any:
    data = {"title": "机房空调停机", "description": "二楼机房空调停机，温度上升。", "priority": "P1",
            "site_region_code": "330203", "on_site_required": True, **fields}
    ticket = desk.open_ticket(db, act(db, world.users["customer_a_admin"]), TicketCreate(**data), channel="portal")
    db.commit()
    return ticket


def test_an_agent_creates_a_work_order_from_a_ticket(client, world, db, scene):
    ticket = make_ticket(db, world)
    csrf = as_user(client, world.users["operator_agent"])
    form = client.get(f"/dispatch/orders/new?ticket_id={ticket.id}")
    assert form.status_code == 200
    assert 'value="机房空调停机"' in form.text and 'name="ticket_id"' in form.text
    r = client.post("/dispatch/orders/new", data={
        "csrf_token": csrf, "ticket_id": str(ticket.id), "title": "机房空调停机", "kind": "repair", "priority": "P1",
        "site_region_code": "330203", "site_address": "海曙区解放北路 91 号", "required_skills": ["power"],
        "estimated_minutes": "90",
    }, follow_redirects=False)
    assert r.status_code == 303, r.text
    order = db.scalar(select(WorkOrder).where(WorkOrder.ticket_id == ticket.id))
    assert r.headers["location"] == f"/dispatch/orders/{order.id}?done=created"
    clock = db.scalar(select(SlaClock).where(SlaClock.ticket_id == ticket.id, SlaClock.metric == "on_site"))
    assert (order.status, order.required_skills, order.arrival_due_at) == ("proposed", ["power"], clock.due_at)
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and 'data-kind="created"' in page.text
    assert f'href="/desk/tickets/{ticket.id}"' in page.text

    again = client.post("/dispatch/orders/new", data={"csrf_token": csrf, "ticket_id": str(ticket.id),
                                                      "estimated_minutes": "abc"})
    assert again.status_code == 422 and 'class="field-error"' in again.text
    twice = client.post("/dispatch/orders/new", data={"csrf_token": csrf, "ticket_id": str(ticket.id)})
    assert twice.status_code == 409 and 'class="alert alert-error"' in twice.text
    no_visit = make_ticket(db, world, title="只需远程处理", on_site_required=False)
    r = client.post("/dispatch/orders/new", data={"csrf_token": csrf, "ticket_id": str(no_visit.id),
                                                  "title": "只需远程处理"})
    assert r.status_code == 422 and "只需远程处理" in r.text

    as_user(client, world.users["customer_a_admin"])
    assert client.get(f"/dispatch/orders/new?ticket_id={ticket.id}").status_code == 404
    as_user(client, world.users["customer_b_admin"])
    assert client.get(f"/dispatch/orders/{order.id}").status_code == 404


# --- the engineer's phone page -----------------------------------------------------------------------


def test_the_engineer_accepts_travels_checks_in_and_out(client, world, db, scene):
    order = assign_to(db, scene)
    csrf = as_user(client, world.users["partner_a_engineer"])
    page = client.get("/my/orders")
    assert page.status_code == 200
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page.text
    assert f'id="order-{order.id}"' in page.text and 'data-step="accept"' in page.text
    for step, status in (("accept", "accepted"), ("travel", "travelling"), ("check-in", "on_site")):
        r = client.post(f"/my/orders/{order.id}/{step}", data={"csrf_token": csrf}, follow_redirects=False)
        assert r.status_code == 303, (step, r.text)
        assert r.headers["location"].startswith("/my/orders?done=")
        db.expire_all()
        assert order.status == status
    page = client.get("/my/orders")
    assert 'data-step="check-out"' in page.text and 'name="notes"' in page.text
    r = client.post(f"/my/orders/{order.id}/check-out", data={"csrf_token": csrf, "notes": "  "})
    assert r.status_code == 422 and 'class="field-error"' in r.text
    db.expire_all()
    assert order.status == "on_site"
    notes = {"csrf_token": csrf, "notes": "更换光纤收发器，相机恢复在线。"}
    r = client.post(f"/my/orders/{order.id}/check-out", data=notes, follow_redirects=False)
    assert r.status_code == 303
    db.expire_all()
    assert (order.status, order.work_notes) == ("done", "更换光纤收发器，相机恢复在线。")
    assert order.checked_in_at is not None and order.checked_out_at is not None
    page = client.get("/my/orders")
    assert 'id="no-orders"' in page.text and "卡口相机离线" in page.text  # under "recently done"


def test_the_engineers_page_lists_several_orders(client, world, db, scene):
    first = assign_to(db, scene)
    tomorrow = orders.create_work_order(db, act(db, scene["dispatcher"]), WorkOrderCreate(
        customer_org_id=world.orgs["customer_a"].id, site_region_code="330206", title="明日巡检机房",
        kind="maintenance", priority="P3", required_skills=["network"],
        earliest_start_at=utcnow() + timedelta(days=1),
    ))
    service.assign(db, act(db, scene["dispatcher"]), tomorrow.id, scene["engineer_a"].id, None)
    db.commit()
    as_user(client, world.users["partner_a_engineer"])
    page = client.get("/my/orders")
    assert f'id="order-{first.id}"' in page.text and f'id="order-{tomorrow.id}"' in page.text
    assert page.text.index(f'id="order-{first.id}"') < page.text.index(f'id="order-{tomorrow.id}"')


def test_only_the_assigned_engineer_moves_the_order(client, world, db, scene):
    order = assign_to(db, scene)
    csrf = as_user(client, scene["other"])  # partner B's engineer: not his partner's order
    assert f'id="order-{order.id}"' not in client.get("/my/orders").text
    assert client.post(f"/my/orders/{order.id}/accept", data={"csrf_token": csrf}).status_code == 404
    csrf = as_user(client, world.users["partner_a_admin"])  # his partner's, but not his own order
    page = client.get("/my/orders")
    assert page.status_code == 200 and 'id="no-profile"' in page.text
    r = client.post(f"/my/orders/{order.id}/accept", data={"csrf_token": csrf})
    assert r.status_code == 403
    csrf = as_user(client, world.users["customer_a_admin"])
    assert client.get("/my/orders").status_code == 404
    assert client.post(f"/my/orders/{order.id}/accept", data={"csrf_token": csrf}).status_code == 404
    db.expire_all()
    assert order.status == "assigned"


# --- the customer's visits ---------------------------------------------------------------------------


def finish(db: Session, world: World, scene: dict[str, Any]) -> WorkOrder:
    order = assign_to(db, scene)
    engineer = act(db, world.users["partner_a_engineer"])
    for step in (field.engineer_accept, field.start_travel, field.check_in):
        step(db, engineer, order.id)
    field.check_out(db, engineer, order.id, "已修复。")
    db.commit()
    return order


def test_the_customer_sees_and_confirms_its_visits(client, world, db, scene):
    order = finish(db, world, scene)
    csrf = as_user(client, world.users["customer_a_member"])
    page = client.get("/visits")
    assert page.status_code == 200
    card = page.text[page.text.index(f'id="order-{order.id}"'):]
    assert "partner_a_engineer" in card and "已修复。" in card
    assert f'action="/visits/{order.id}/confirm"' in card
    bad = client.post(f"/visits/{order.id}/confirm", data={"csrf_token": csrf, "rating": "9"})
    assert bad.status_code == 422 and 'class="field-error"' in bad.text
    r = client.post(f"/visits/{order.id}/confirm", data={"csrf_token": csrf, "rating": "4", "comment": "很及时"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/visits?done=confirmed#order-{order.id}"
    db.expire_all()
    assert (order.confirmation_rating, order.confirmation_comment) == (4, "很及时")
    page = client.get("/visits")
    assert 'class="confirmed"' in page.text and f'action="/visits/{order.id}/confirm"' not in page.text
    assert client.post(f"/visits/{order.id}/confirm", data={"csrf_token": csrf, "rating": "5"}).status_code == 409

    csrf = as_user(client, world.users["customer_b_admin"])
    assert "卡口相机离线" not in client.get("/visits").text
    assert client.post(f"/visits/{order.id}/confirm", data={"csrf_token": csrf, "rating": "1"}).status_code == 404
    as_user(client, world.users["partner_a_admin"])
    assert client.get("/visits").status_code == 404
    as_user(client, world.users["operator_admin"])
    assert client.get("/visits", follow_redirects=False).headers["location"] == "/dispatch"


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_every_dispatch_page_renders_in_both_languages(client, world, db, scene, locale):
    order = finish(db, world, scene)
    ticket = make_ticket(db, world)
    client.get(f"/lang/{locale}")
    pages = {
        scene["dispatcher"].email: ["/dispatch", f"/dispatch/orders/{order.id}", "/dispatch/orders/new",
                                    f"/dispatch/orders/new?ticket_id={ticket.id}",
                                    f"/dispatch/orders/new?customer_org_id={world.orgs['customer_a'].id}"],
        world.users["partner_a_engineer"].email: ["/my/orders", f"/dispatch/orders/{order.id}"],
        world.users["customer_a_admin"].email: ["/visits", f"/dispatch/orders/{order.id}"],
        world.users["partner_a_admin"].email: ["/dispatch", "/my/orders"],
    }
    for email, paths in pages.items():
        sign_in(client, email)
        client.get(f"/lang/{locale}")
        for path in paths:
            page = client.get(path)
            assert page.status_code == 200, (email, path)
            assert page.headers["content-language"] == locale.replace("_", "-")
            assert not re.search(r"\b(wo|skill|kind|proposal|event):[a-z_]+\b", page.text), (email, path)
        client.cookies.clear()


# --- the dispatchers' notes, reads that write nothing, other organizations' posts ---------------------


def test_customers_and_partners_do_not_read_the_dispatchers_notes(client, world, db, scene):
    order = scene["order"]
    dispatcher = act(db, scene["dispatcher"])
    service.plan_round(db, dispatcher)
    proposal = db.scalar(select(DispatchProposal).where(DispatchProposal.work_order_id == order.id))
    service.reject_proposal(db, dispatcher, proposal.id, "客户要求换人")
    service.assign(db, dispatcher, order.id, scene["engineer_b"].id, "先派乙伙伴")  # "assigned", with the note
    service.assign(db, dispatcher, order.id, scene["engineer_a"].id, "甲伙伴熟悉该站点")  # "override"
    db.commit()
    notes = (f"proposal {proposal.id} rejected", "客户要求换人", "先派乙伙伴", "甲伙伴熟悉该站点")

    as_user(client, scene["dispatcher"])
    page = client.get(f"/dispatch/orders/{order.id}")
    assert page.status_code == 200 and 'data-kind="override"' in page.text
    assert all(note in page.text for note in notes)

    for name in ("customer_a_admin", "partner_a_admin", "partner_a_engineer"):
        as_user(client, world.users[name])
        page = client.get(f"/dispatch/orders/{order.id}")
        assert page.status_code == 200, name
        assert 'data-kind="override"' in page.text and 'data-kind="note"' not in page.text, name
        assert not [note for note in notes if note in page.text], name


def test_reading_a_work_order_writes_nothing(client, world, db, scene):
    ticket = make_ticket(db, world, priority="P3")
    dispatcher = act(db, scene["dispatcher"])
    order = orders.create_work_order(db, dispatcher, WorkOrderCreate(ticket_id=ticket.id, required_skills=["network"]))
    db.commit()
    desk.update_ticket(db, act(db, world.users["operator_agent"]), ticket.id, TicketUpdate(priority="P1"))
    db.commit()
    # the clock moves behind the order's back, as a read-repair on every GET used to catch up with
    clock = db.scalar(select(SlaClock).where(SlaClock.ticket_id == ticket.id, SlaClock.metric == "on_site"))
    assert clock is not None and clock.due_at is not None
    clock.due_at += timedelta(days=3)
    db.commit()
    for reader in (scene["dispatcher"], world.users["customer_a_admin"]):
        as_user(client, reader)  # signing in is audited; reading the order then writes nothing
        before = snapshot(db)
        assert client.get(f"/dispatch/orders/{order.id}").status_code == 200
        assert snapshot(db) == before


def snapshot(db: Session) -> tuple[Any, ...]:
    """What a refused post must leave as it was: row counts and every order's and proposal's state."""
    db.expire_all()
    return (
        count(db, WorkOrder), count(db, WorkOrderEvent), count(db, DispatchPlan), count(db, AuditEntry),
        sorted(db.execute(select(WorkOrder.id, WorkOrder.status, WorkOrder.engineer_id, WorkOrder.priority,
                                 WorkOrder.arrival_due_at)).all()),
        sorted(db.execute(select(DispatchProposal.id, DispatchProposal.status, DispatchProposal.decision_note)).all()),
    )


def test_other_organizations_cannot_plan_decide_cancel_or_create(client, world, db, scene):
    order = scene["order"]
    service.plan_round(db, act(db, scene["dispatcher"]))
    db.commit()
    proposal = db.scalar(select(DispatchProposal).where(DispatchProposal.work_order_id == order.id,
                                                        DispatchProposal.status == "pending"))
    ticket = make_ticket(db, world)
    posts = [
        (f"/dispatch/proposals/{proposal.id}/reject", {"note": "不要"}),
        (f"/dispatch/orders/{order.id}/cancel", {"reason": "不需要了"}),
        ("/dispatch/plan", {}),
        ("/dispatch/orders/new", {"ticket_id": str(ticket.id), "title": "机房空调停机", "kind": "repair",
                                  "priority": "P1", "site_region_code": "330203", "estimated_minutes": "90"}),
        ("/dispatch/orders/new", {"customer_org_id": str(world.orgs["customer_a"].id), "title": "巡检",
                                  "site_region_code": "330203"}),
    ]
    for name in ("partner_b_admin", "customer_a_admin", "customer_b_admin", "partner_a_engineer"):
        csrf = as_user(client, world.users[name])
        for path, data in posts:
            before = snapshot(db)
            assert client.post(path, data={"csrf_token": csrf, **data}).status_code == 404, (name, path)
            assert snapshot(db) == before, (name, path)
    csrf = as_user(client, world.users["operator_agent"])  # the provider's own agent: forbidden, not unknown
    for path, data in posts[:3]:
        before = snapshot(db)
        assert client.post(path, data={"csrf_token": csrf, **data}).status_code == 403, path
        assert snapshot(db) == before, path


def test_another_partners_engineer_cannot_travel_check_in_or_out(client, world, db, scene):
    order = assign_to(db, scene)
    engineer = act(db, world.users["partner_a_engineer"])
    stranger = as_user(client, scene["other"])  # partner B's engineer
    steps = (("travel", field.engineer_accept), ("check-in", field.start_travel), ("check-out", field.check_in))
    for path, ready in steps:
        ready(db, engineer, order.id)  # the order is now where `path` would move it on
        db.commit()
        before = snapshot(db)
        r = client.post(f"/my/orders/{order.id}/{path}", data={"csrf_token": stranger, "notes": "已修复。"})
        assert r.status_code == 404, path
        assert snapshot(db) == before, path
    db.expire_all()
    assert (order.status, order.checked_out_at, order.work_notes) == ("on_site", None, None)


# --- the visits on the customer's ticket page --------------------------------------------------------


def test_the_customers_ticket_page_shows_its_visits(client, world, db, scene):
    ticket = make_ticket(db, world)
    other_ticket = make_ticket(db, world, title="另一张工单")
    dispatcher = act(db, scene["dispatcher"])
    done = orders.create_work_order(db, dispatcher, WorkOrderCreate(ticket_id=ticket.id, required_skills=["network"]))
    elsewhere = orders.create_work_order(db, dispatcher, WorkOrderCreate(ticket_id=other_ticket.id,
                                                                          required_skills=["network"]))
    service.assign(db, dispatcher, done.id, scene["engineer_a"].id, None)
    engineer = act(db, world.users["partner_a_engineer"])
    for step in (field.engineer_accept, field.start_travel, field.check_in):
        step(db, engineer, done.id)
    field.check_out(db, engineer, done.id, "已修复。")
    db.commit()
    zone = get_settings().timezone

    as_user(client, world.users["customer_a_member"])
    page = client.get(f"/tickets/{ticket.id}")
    assert page.status_code == 200
    card = page.text[page.text.index('id="visits"'):]
    visit = card[card.index(f'id="visit-{done.id}"'):]
    assert 'data-status="done"' in visit and "已完成" in visit  # "Visit done"
    assert "partner_a_engineer" in visit
    for moment in (done.planned_arrival_at, done.checked_in_at, done.checked_out_at):
        assert format_instant(moment, "zh_CN", zone, "short") in visit
    assert f'href="/visits#order-{done.id}"' in visit and f'data-confirm="{done.id}"' in visit
    assert f'id="visit-{elsewhere.id}"' not in page.text  # another ticket's visit

    field.confirm_visit(db, act(db, world.users["customer_a_admin"]), done.id, 5, None)
    db.commit()
    page = client.get(f"/tickets/{ticket.id}")
    assert f'data-confirm="{done.id}"' not in page.text and "5/5" in page.text
    second = client.get(f"/tickets/{other_ticket.id}")
    assert f'id="visit-{elsewhere.id}"' in second.text and "安排中" in second.text  # no engineer yet
    assert f'id="visit-{done.id}"' not in second.text
    assert 'id="visits"' not in client.get(f"/tickets/{make_ticket(db, world, title='无需上门').id}").text

    as_user(client, world.users["operator_agent"])
    page = client.get(f"/desk/tickets/{ticket.id}")
    assert f'href="/dispatch/orders/{done.id}"' in page.text
