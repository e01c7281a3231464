"""Two dispatchers accept, at the same instant, proposals that give the same engineer two different orders at
overlapping times (PostgreSQL, committed data, one session and client per dispatcher): the engineer's row lock
serialises them and the second re-check sees the first booking, so exactly one wins, the other gets a 409
naming engineer_id, and the engineer holds one active order."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from huoban.db import make_engine
from huoban.models import ACTIVE_ORDER_STATES, DispatchPlan, DispatchProposal, WorkOrder, utcnow
from tests.conftest import TEST_DATABASE_URL
from tests.dispatch.factories import SHOUGUANG, make_engineer, make_work_order
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
