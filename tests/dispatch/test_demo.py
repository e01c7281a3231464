"""The dispatch demo on a fresh database through `huoban demo`: loads twice without adding anything the second
time, engineers of at least three partners, work orders in every state and coverage gaps to look at."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

import huoban as huoban_package
from huoban.demo import load_demo
from huoban.dispatch.coverage import coverage_gaps
from huoban.identity.repository import find_user_by_email
from huoban.identity.service import actor_for
from huoban.models import (
    CustomerSite,
    DispatchProposal,
    Engineer,
    EngineerAbsence,
    EngineerCertification,
    Organization,
    OrgKind,
    Ticket,
    User,
    WorkOrder,
    WorkOrderEvent,
)
from tests.commands import huoban


def counts(session: Session) -> dict[str, int]:
    return {model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (User, Engineer, EngineerCertification, EngineerAbsence, CustomerSite, WorkOrder,
                          WorkOrderEvent, DispatchProposal)}


def test_the_dispatch_demo_loads_twice_and_has_partners_orders_and_gaps(fresh_database_url):
    first = huoban(fresh_database_url, "demo")
    assert first.returncode == 0, first.stderr
    engine = create_engine(fresh_database_url)
    with Session(engine) as session:
        loaded = counts(session)
        partners = set(session.scalars(
            select(Organization.name).join(Engineer, Engineer.org_id == Organization.id)
            .where(Organization.kind == OrgKind.partner)))
        assert len(partners) >= 3, partners
        assert {"山东齐鲁云维信息技术服务有限公司", "浙江数联系统集成有限公司"} <= partners
        operator_engineers = select(func.count()).select_from(Engineer).join(
            Organization, Organization.id == Engineer.org_id).where(Organization.kind == OrgKind.operator)
        assert session.scalar(operator_engineers) == 1
        assert loaded["EngineerAbsence"] >= 1 and loaded["CustomerSite"] >= 20

        orders = list(session.scalars(select(WorkOrder)))
        statuses = {o.status for o in orders}
        assert {"proposed", "assigned", "accepted", "done"} <= statuses
        assert any(o.status == "done" and o.confirmed_at is None for o in orders)
        assert any(o.confirmation_rating == 5 for o in orders)
        from_ticket = [o for o in orders if o.ticket_id is not None]
        assert from_ticket and all(o.site_region_code.startswith("37") for o in from_ticket)
        ticket = session.get_one(Ticket, from_ticket[0].ticket_id)
        assert (ticket.priority, ticket.on_site_required) == ("P1", True)
        pending = list(session.scalars(select(DispatchProposal).where(DispatchProposal.status == "pending")))
        assert {p.work_order_id for p in pending} == {o.id for o in orders if o.status == "proposed"}

        admin = find_user_by_email(session, "zhang.wei@huayun-cloud.cn")
        assert admin is not None
        actor = actor_for(admin, session.get_one(Organization, admin.org_id))
        sgcc = [c for c in coverage_gaps(session, actor) if c.customer_name == "国网山东省电力公司"]
        assert sgcc and sgcc[0].target_minutes == 240  # the P1 on-site target of its 7x24 policy
        gap_counties = {g.region_code for g in sgcc[0].gaps}
        assert gap_counties & {"371082", "371002"}, gap_counties  # 威海: beyond four hours of any engineer
        assert "370102" not in gap_counties  # 济南 is covered

    again = huoban(fresh_database_url, "demo")
    assert again.returncode == 0, again.stderr
    with Session(engine) as session:
        assert counts(session) == loaded
    engine.dispose()


def freeze_every_clock(monkeypatch: pytest.MonkeyPatch, at: datetime) -> None:
    """Make every module of Huoban believe it is `at` (moving on with real time from there), as the demo
    would find it when loaded at that hour: each module's `utcnow` becomes the moving clock."""
    for info in pkgutil.walk_packages(huoban_package.__path__, "huoban."):
        if ".migrations" not in info.name and not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    started = datetime.now(UTC)

    def moving() -> datetime:
        return at + (datetime.now(UTC) - started)

    for name, module in list(sys.modules.items()):
        if name.startswith("huoban") and callable(getattr(module, "utcnow", None)):
            monkeypatch.setattr(module, "utcnow", moving)  # base.utcnow, or a service's own for its tests
    import huoban.dispatch.coverage as coverage
    monkeypatch.setattr(coverage, "_today", lambda: moving().astimezone(CHINA).date())


CHINA = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("at", [
    "2026-11-23T18:30:00+08:00",  # a Monday evening: the office-hours engineers have gone home
    "2026-11-24T08:15:00+08:00",  # before office hours
    "2026-11-27T18:30:00+08:00",  # a Friday evening: the next working day is Monday
    "2026-11-28T03:00:00+08:00",  # a Saturday night
    "2026-10-10T17:30:00+08:00",  # a working Saturday (调休) late in the afternoon
])
def test_the_demo_loads_at_any_hour_and_books_office_hours_engineers_in_working_time(
    fresh_database_url, monkeypatch, at
):
    freeze_every_clock(monkeypatch, datetime.fromisoformat(at))
    engine = create_engine(fresh_database_url)
    with Session(engine) as session:
        load_demo(session, "Huoban-demo-2026")
        session.commit()
        orders = list(session.scalars(select(WorkOrder)))
        assert {"proposed", "assigned", "accepted", "done"} <= {o.status for o in orders}
        office = [o for o in orders if o.status in ("assigned", "accepted")]
        assert len(office) == 2
        for order in office:
            assert order.planned_arrival_at is not None
            local = order.planned_arrival_at.replace(tzinfo=order.planned_arrival_at.tzinfo or UTC).astimezone(CHINA)
            assert 9 <= local.hour < 18, local
            assert local > datetime.fromisoformat(at)  # a visit still to come, as its state tells
            assert order.arrival_due_at is not None
            due = order.arrival_due_at.replace(tzinfo=order.arrival_due_at.tzinfo or UTC)
            assert due > datetime.fromisoformat(at), (order.title, order.created_at, due)  # not late on opening
    engine.dispose()
