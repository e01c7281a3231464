"""Two dispatchers accept, at the same instant, proposals that give the same engineer two different orders at
overlapping times (PostgreSQL, committed data, one session and client per dispatcher): the engineer's row lock
serialises them and the second re-check sees the first booking, so exactly one wins, the other gets a 409
naming engineer_id, and the engineer holds one active order. Then many rounds of two decisions on one order at
once (accept against assign, cancel or reject; a ticket change against the check-in of its order): one lock
order everywhere, so never PostgreSQL's "deadlock detected" (a 500), only 200s and 409s and a consistent end."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from huoban.db import make_engine
from huoban.models import ACTIVE_ORDER_STATES, DispatchPlan, DispatchProposal, Organization, User, WorkOrder, utcnow
from tests.conftest import TEST_DATABASE_URL
from tests.dispatch.factories import PROPOSALS, SHOUGUANG, WORK_ORDERS, make_engineer, make_work_order
from tests.factories import bearer, make_org, make_user, token_for

pytestmark = pytest.mark.skipif(not TEST_DATABASE_URL.startswith("postgresql"), reason="needs PostgreSQL")


def _seed(maker: sessionmaker[Session]) -> dict[str, object]:
    with maker() as s, s.begin():
        operator = make_org(s, "operator", "运营方")
        customer = make_org(s, "customer", "潍坊市政务服务中心")
        partner = make_org(s, "partner", "山东齐鲁云维")
        dispatchers = [make_user(s, operator, "dispatcher", email=f"d{i}@race.test") for i in (1, 2)]
        engineer = make_engineer(s, make_user(s, partner, "partner_engineer", email="e@race.test"))
        now = utcnow()
        orders = [make_work_order(s, customer, dispatchers[0], title=f"工单 {i}", region_code=SHOUGUANG,
                                  arrival_due_at=now + timedelta(hours=4)) for i in (1, 2)]
        plan = DispatchPlan(created_by_id=dispatchers[0].id, planned_at=now, order_count=2, engineer_count=1)
        s.add(plan)
        s.flush()
        proposals = [DispatchProposal(plan_id=plan.id, work_order_id=o.id, engineer_id=engineer.id, status="pending",
                                      distance_km=1.0, travel_minutes=20, arrival_at=now + timedelta(minutes=20),
                                      due_at=o.arrival_due_at, on_time=True, explanation={}) for o in orders]
        s.add_all(proposals)
        s.flush()
        return {"tokens": [token_for(s, d) for d in dispatchers], "engineer": engineer.id,
                "proposals": [p.id for p in proposals]}


@pytest.fixture
def race_app(fresh_database_url: str) -> Iterator[tuple[object, sessionmaker[Session]]]:
    from huoban.app import create_app
    from huoban.deps import get_session

    engine = make_engine(fresh_database_url)
    maker = sessionmaker(bind=engine, expire_on_commit=False)

    def session_override() -> Iterator[Session]:
        with maker() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    app = create_app()
    app.dependency_overrides[get_session] = session_override
    yield app, maker
    engine.dispose()


def test_two_dispatchers_accepting_at_once_cannot_book_one_engineer_twice(race_app):  # type: ignore[no-untyped-def]
    app, maker = race_app
    seeded = _seed(maker)
    tokens, proposals = seeded["tokens"], seeded["proposals"]
    barrier = threading.Barrier(2)
    results: dict[int, tuple[int, dict[str, object]]] = {}

    def dispatcher(i: int) -> None:
        with TestClient(app, base_url="http://testserver") as client:
            barrier.wait(timeout=30)
            response = client.post(f"/api/v1/dispatch/proposals/{proposals[i]}/accept",  # type: ignore[index]
                                   headers=bearer(tokens[i]))  # type: ignore[index]
            results[i] = (response.status_code, response.json())

    threads = [threading.Thread(target=dispatcher, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    statuses = sorted(code for code, _ in results.values())
    assert statuses == [200, 409], results
    [loser] = [body for code, body in results.values() if code == 409]
    assert [e["field"] for e in loser["errors"]] == ["engineer_id"]  # type: ignore[union-attr]
    with maker() as s:
        active = list(s.scalars(select(WorkOrder).where(WorkOrder.engineer_id == seeded["engineer"],
                                                        WorkOrder.status.in_(ACTIVE_ORDER_STATES))))
        assert len(active) == 1
        states = sorted(s.scalars(select(DispatchProposal.status).where(DispatchProposal.id.in_(proposals))))
        assert states == ["accepted", "pending"]
        assert sorted(s.scalars(select(WorkOrder.status))) == ["assigned", "proposed"]


# --- one order, two decisions at once ------------------------------------------------------------------------
# Every write path locks the work order first, then its proposals, then the engineer; so an accept racing an
# assign, a cancel or a reject of the same order waits instead of deadlocking (which PostgreSQL reports as
# "deadlock detected", a 500). Each round seeds a fresh order with pending proposals and fires both requests.

ROUNDS = 12


def _seed_pair(maker: sessionmaker[Session]) -> dict[str, Any]:
    """Two dispatchers and two engineers (a proposed one and another the dispatcher picks instead)."""
    with maker() as s, s.begin():
        operator = make_org(s, "operator", "运营方")
        customer = make_org(s, "customer", "潍坊市政务服务中心")
        partner = make_org(s, "partner", "山东齐鲁云维")
        dispatchers = [make_user(s, operator, "dispatcher", email=f"d{i}@race.test") for i in (1, 2)]
        engineers = [make_engineer(s, make_user(s, partner, "partner_engineer", email=f"e{i}@race.test"),
                                   max_orders_per_day=1000) for i in (1, 2)]
        return {"tokens": [token_for(s, d) for d in dispatchers], "engineers": [e.id for e in engineers],
                "customer": customer.id, "dispatcher": dispatchers[0].id}


def _new_round(maker: sessionmaker[Session], seeded: dict[str, Any], proposals: int = 1) -> tuple[int, list[int]]:
    """A proposed order with `proposals` pending proposals (one per engineer, as from successive plans)."""
    with maker() as s, s.begin():
        customer = s.get_one(Organization, seeded["customer"])
        dispatcher = s.get_one(User, seeded["dispatcher"])
        now = utcnow()
        order = make_work_order(s, customer, dispatcher, region_code=SHOUGUANG,
                                arrival_due_at=now + timedelta(hours=4))
        ids = []
        for engineer_id in seeded["engineers"][:proposals]:
            plan = DispatchPlan(created_by_id=dispatcher.id, planned_at=now, order_count=1, engineer_count=1)
            s.add(plan)
            s.flush()
            proposal = DispatchProposal(plan_id=plan.id, work_order_id=order.id, engineer_id=engineer_id,
                                        status="pending", distance_km=1.0, travel_minutes=20,
                                        arrival_at=now + timedelta(minutes=20), due_at=order.arrival_due_at,
                                        on_time=True, explanation={})
            s.add(proposal)
            s.flush()
            ids.append(proposal.id)
        return order.id, ids


def _end_round(maker: sessionmaker[Session], order_id: int) -> None:
    """Free the engineers for the next round (test set-up, not a rule of the service)."""
    with maker() as s, s.begin():
        s.execute(update(WorkOrder).where(WorkOrder.id == order_id).values(status="cancelled"))


def _at_once(app: object, calls: list[tuple[str, str, str, dict[str, Any] | None]]
             ) -> list[tuple[int, dict[str, Any]]]:
    """Send each (method, path, token, body) from its own thread, client and database session, released
    together; every answer is a 200 or a 409, never a 500 nor an exception."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        method, path, token, body = calls[i]
        try:
            with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as client:  # type: ignore[arg-type]
                barrier.wait(timeout=30)
                response = client.request(method, path, headers=bearer(token), json=body)
                ok = response.headers.get("content-type", "").startswith("application/json")
                results[i] = (response.status_code, response.json() if ok else {"text": response.text})
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = (-1, {"exception": repr(exc)})

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(code in (200, 409) for code, _ in results), results
    return results


def _state(maker: sessionmaker[Session], order_id: int) -> tuple[WorkOrder, list[str]]:
    with maker() as s:
        order = s.get_one(WorkOrder, order_id)
        statuses = list(s.scalars(select(DispatchProposal.status).where(DispatchProposal.work_order_id == order_id)
                                  .order_by(DispatchProposal.id)))
        return order, statuses


def test_accept_racing_an_assign_of_the_same_order_never_deadlocks(race_app):  # type: ignore[no-untyped-def]
    app, maker = race_app
    seeded = _seed_pair(maker)
    picked = seeded["engineers"][1]
    for _ in range(ROUNDS):
        order_id, [proposal] = _new_round(maker, seeded)
        (accepted, _), (assigned, _) = _at_once(app, [
            ("POST", f"{PROPOSALS}/{proposal}/accept", seeded["tokens"][0], None),
            ("POST", f"{WORK_ORDERS}/{order_id}/assign", seeded["tokens"][1], {"engineer_id": picked}),
        ])
        order, statuses = _state(maker, order_id)
        # the assign always wins in the end: first, or as a change after the accept
        assert assigned == 200 and (order.status, order.engineer_id) == ("assigned", picked)
        assert statuses == ["accepted" if accepted == 200 else "rejected"]
        _end_round(maker, order_id)


def test_accept_racing_a_cancel_of_the_same_order_never_deadlocks(race_app):  # type: ignore[no-untyped-def]
    app, maker = race_app
    seeded = _seed_pair(maker)
    for _ in range(ROUNDS):
        order_id, [proposal] = _new_round(maker, seeded)
        (accepted, _), (cancelled, _) = _at_once(app, [
            ("POST", f"{PROPOSALS}/{proposal}/accept", seeded["tokens"][0], None),
            ("POST", f"{WORK_ORDERS}/{order_id}/cancel", seeded["tokens"][1], {"reason": "客户已自行修复"}),
        ])
        order, statuses = _state(maker, order_id)
        assert cancelled == 200 and order.status == "cancelled"
        assert statuses == ["accepted" if accepted == 200 else "superseded"]
        assert (order.engineer_id is not None) == (accepted == 200)


def test_accept_racing_a_reject_of_the_same_order_never_deadlocks(race_app):  # type: ignore[no-untyped-def]
    app, maker = race_app
    seeded = _seed_pair(maker)
    first = seeded["engineers"][0]
    for n in range(ROUNDS):
        order_id, proposals = _new_round(maker, seeded, proposals=2)
        rejected_id = proposals[n % 2]  # the other pending proposal of the order, or the same one
        (accepted, _), (rejected, _) = _at_once(app, [
            ("POST", f"{PROPOSALS}/{proposals[0]}/accept", seeded["tokens"][0], None),
            ("POST", f"{PROPOSALS}/{rejected_id}/reject", seeded["tokens"][1], {"note": "换人"}),
        ])
        order, statuses = _state(maker, order_id)
        assert statuses.count("accepted") <= 1
        if rejected_id == proposals[0]:  # one decision on one proposal wins
            assert sorted([accepted, rejected]) == [200, 409]
            if accepted == 200:
                assert (order.status, order.engineer_id, statuses) == ("assigned", first, ["accepted", "superseded"])
            else:
                assert (order.status, order.engineer_id, statuses) == ("proposed", None, ["rejected", "pending"])
        else:  # rejecting the other proposal never stops the accept; after it, the other is superseded
            assert accepted == 200 and (order.status, order.engineer_id) == ("assigned", first)
            assert statuses == ["accepted", "rejected" if rejected == 200 else "superseded"]
        _end_round(maker, order_id)


def test_a_ticket_change_racing_the_check_in_of_its_order_never_deadlocks(race_app):  # type: ignore[no-untyped-def]
    """The priority change locks the ticket, moves its clocks and then its order; the check-in locks the ticket
    and its clocks before the order, then meets the on-site clock: both wait in the same order."""
    app, maker = race_app
    with maker() as s, s.begin():
        operator = make_org(s, "operator", "运营方")
        customer = make_org(s, "customer", "潍坊市政务服务中心")
        partner = make_org(s, "partner", "山东齐鲁云维")
        engineer = make_engineer(s, make_user(s, partner, "partner_engineer", email="e@race.test"),
                                 calendar="24x7", max_orders_per_day=1000)
        tokens = {name: token_for(s, make_user(s, org, role, email=f"{name}@race.test")) for name, org, role in (
            ("customer", customer, "member"), ("agent", operator, "agent"), ("dispatcher", operator, "dispatcher"))}
        tokens["engineer"] = token_for(s, s.get_one(User, engineer.user_id))
        engineer_id = engineer.id
    with TestClient(app, base_url="http://testserver") as client:

        def call(who: str, path: str, body: dict[str, Any] | None = None, method: str = "POST") -> Any:
            response = client.request(method, path, headers=bearer(tokens[who]), json=body)
            assert response.status_code in (200, 201), response.text
            return response.json()

        for n in range(ROUNDS):
            ticket = call("customer", "/api/v1/tickets", {
                "title": f"核心交换机宕机 {n}", "description": "机房核心交换机无法启动。", "priority": "P3",
                "on_site_required": True, "site_region_code": SHOUGUANG})
            order = call("agent", WORK_ORDERS, {"ticket_id": ticket["id"]})
            call("dispatcher", f"{WORK_ORDERS}/{order['id']}/assign", {"engineer_id": engineer_id})
            call("engineer", f"{WORK_ORDERS}/{order['id']}/accept")
            call("engineer", f"{WORK_ORDERS}/{order['id']}/start-travel")
            (arrived, _), (changed, _) = _at_once(app, [
                ("POST", f"{WORK_ORDERS}/{order['id']}/check-in", tokens["engineer"], None),
                ("PATCH", f"/api/v1/tickets/{ticket['id']}", tokens["agent"], {"priority": "P1"}),
            ])
            assert (arrived, changed) == (200, 200)
            shown = call("dispatcher", f"{WORK_ORDERS}/{order['id']}", method="GET")
            assert (shown["status"], shown["priority"]) == ("on_site", "P1")
            call("engineer", f"{WORK_ORDERS}/{order['id']}/check-out", {"notes": "更换电源模块"})
