"""Edits reach open tickets: a calendar import or a policy change recomputes due and escalation times of open
clocks in the same transaction (Zammad #534 never did), and leaves met clocks alone."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from huoban.db import make_engine
from huoban.identity.service import actor_for
from huoban.models import SlaClock, SlaEscalation, utcnow
from huoban.service_desk.schemas import TicketCreate
from huoban.service_desk.service import open_ticket
from huoban.sla.calendar import add_working_time
from huoban.sla.recompute import recompute_calendar
from huoban.sla.store import work_calendar
from tests.commands import huoban
from tests.factories import make_org, make_user

SHANGHAI = ZoneInfo("Asia/Shanghai")


def raise_ticket(client, world, title="核心交换机宕机", priority="P1"):
    r = world.call(client, "POST", "/api/v1/tickets", "customer_a_member",
                   json={"title": title, "description": "全市政务外网中断", "priority": priority})
    assert r.status_code == 201, r.text
    return r.json()


def clocks(client, world, ticket_id):
    got = world.call(client, "GET", f"/api/v1/tickets/{ticket_id}", "operator_agent").json()
    return {c["metric"]: c for c in got["clocks"]}


def due(client, world, ticket_id, metric="resolution"):
    return datetime.fromisoformat(clocks(client, world, ticket_id)[metric]["due_at"])


def close_day(client, world, day):
    """Import `day` as a holiday into cn-standard (id 2), keeping the rest of its year."""
    definition = world.call(client, "GET", "/api/v1/sla/calendars/2", "operator_admin").json()["definition"]
    prefix = f"{day.year}-"
    body = {"year": day.year,
            "holidays": sorted({d for d in definition["holidays"] if d.startswith(prefix)} | {day.isoformat()}),
            "overrides": {d: v for d, v in definition["overrides"].items()
                          if d.startswith(prefix) and d != day.isoformat()}}
    r = world.call(client, "POST", "/api/v1/sla/calendars/2/import", "operator_admin", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_holiday_on_the_due_date_moves_open_clocks_later(client, world):
    open_one = raise_ticket(client, world)
    done_one = raise_ticket(client, world, title="已解决")
    resolved = world.call(client, "POST", f"/api/v1/tickets/{done_one['id']}/status", "operator_agent",
                          json={"status": "resolved"})
    assert resolved.status_code == 200, resolved.text
    before = due(client, world, open_one["id"])
    settled = clocks(client, world, done_one["id"])

    imported = close_day(client, world, before.astimezone(SHANGHAI).date())
    assert imported["recomputed_clocks"] == 2  # the open ticket's first response and resolution

    after = due(client, world, open_one["id"])
    assert after > before
    assert after.astimezone(SHANGHAI).date() > before.astimezone(SHANGHAI).date()
    assert clocks(client, world, done_one["id"]) == settled  # met clocks keep their times


def test_policy_target_change_moves_due_times(client, world):
    ticket = raise_ticket(client, world)
    p3 = raise_ticket(client, world, title="P3", priority="P3")
    before, p3_before = due(client, world, ticket["id"]), due(client, world, p3["id"])
    policy = world.call(client, "GET", "/api/v1/sla/policies/1", "operator_admin").json()
    targets = {**policy["targets"], "P1": {**policy["targets"]["P1"], "resolution": 960}}
    r = world.call(client, "PATCH", "/api/v1/sla/policies/1", "operator_admin", json={"targets": targets})
    assert r.status_code == 200, r.text
    assert r.json()["recomputed_clocks"] == 4
    later = due(client, world, ticket["id"])
    assert later > before
    assert clocks(client, world, ticket["id"])["resolution"]["target_seconds"] == 960 * 60
    assert due(client, world, p3["id"]) == p3_before  # P3 targets did not change

    # on the 7x24 calendar a 960-minute target is 16 hours of wall-clock time
    r = world.call(client, "PATCH", "/api/v1/sla/policies/1", "operator_admin", json={"calendar_id": 1})
    assert r.status_code == 200, r.text
    clock = clocks(client, world, ticket["id"])["resolution"]
    started = datetime.fromisoformat(clock["started_at"])
    assert datetime.fromisoformat(clock["due_at"]) == started + timedelta(hours=16)


def test_recompute_keeps_fired_steps_and_counts_pauses_until_now(client, world, db):
    ticket = raise_ticket(client, world)
    waiting = raise_ticket(client, world, title="等客户")
    r = world.call(client, "POST", f"/api/v1/tickets/{waiting['id']}/status", "operator_agent",
                   json={"status": "waiting_customer"})
    assert r.status_code == 200, r.text
    clock = db.scalar(select(SlaClock).where(SlaClock.ticket_id == ticket["id"], SlaClock.metric == "resolution"))
    paused = db.scalar(select(SlaClock).where(SlaClock.ticket_id == waiting["id"], SlaClock.metric == "resolution"))
    db.add(SlaEscalation(clock_id=clock.id, percent=50, notified=[]))
    db.flush()
    paused_due = paused.due_at

    later = utcnow() + timedelta(days=14)  # two weeks of waiting on the customer always hold working time
    assert recompute_calendar(db, 2, later) == 4
    cal = work_calendar(db, 2)
    assert clock.next_escalation_percent == 80
    assert clock.next_escalation_at == add_working_time(cal, clock.started_at, clock.target_seconds * 80 // 100)
    assert paused.next_escalation_at is None  # no escalation while waiting on the customer
    assert paused.due_at > paused_due
    assert paused.due_at == add_working_time(cal, paused.started_at, paused.target_seconds,
                                             [(paused.paused_since, later)])


def test_cli_recompute_and_sweep(fresh_database_url):
    engine = make_engine(fresh_database_url)
    with Session(engine) as session:
        org = make_org(session, "customer", "宁波市大数据局")
        user = make_user(session, org, "customer_member", email="member@nbdata.test")
        ticket = open_ticket(session, actor_for(user, org), TicketCreate(title="门户无法登录", description="…",
                                                                           priority="P2"))
        session.commit()
        ticket_id = ticket.id
    r = huoban(fresh_database_url, "sla", "recompute", "--calendar", "cn-standard")
    assert r.returncode == 0, r.stderr
    assert "recomputed 2 open clocks on cn-standard (0 changed)" in r.stdout
    r = huoban(fresh_database_url, "sla", "recompute", "--calendar", "24x7")
    assert "recomputed 0 open clocks" in r.stdout
    r = huoban(fresh_database_url, "sla", "recompute", "--calendar", "nowhere")
    assert r.returncode == 1 and r.stderr.strip() == "error: calendar 'nowhere' not found"

    assert huoban(fresh_database_url, "sla", "sweep").stdout.strip() == "fired 0 escalation steps"
    with create_engine(fresh_database_url).begin() as conn:
        conn.execute(update(SlaClock).where(SlaClock.ticket_id == ticket_id, SlaClock.metric == "resolution")
                     .values(next_escalation_at=datetime(2020, 1, 1, tzinfo=SHANGHAI)))
    r = huoban(fresh_database_url, "sla", "sweep")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "fired 1 escalation steps"
    assert huoban(fresh_database_url, "sla", "sweep").stdout.strip() == "fired 0 escalation steps"
    engine.dispose()
