"""SLA clocks with the service desk's time under control: concrete due instants on China's working calendar
(holidays and 调休 from `chinese_calendar`), pauses counted in working time, a 24x7 customer policy,
retroactive priority changes, reopening; and a Hypothesis property over random pause/resume histories.

2026 facts used here (chinese_calendar 1.11): Fri 2026-09-25 is the Mid-Autumn Festival (closed); Sun
2026-09-20 and Sat 2026-10-10 are adjusted working days; 2026-10-01..07 is the National Day holiday.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from huoban.models import SlaClock, SlaPolicy, Ticket
from huoban.service_desk import service
from huoban.service_desk.schemas import CommentIn, TicketCreate, TransitionIn
from huoban.sla.calendar import working_seconds
from huoban.sla.store import work_calendar
from tests.service_desk.factories import (
    FrozenTime,
    actor_of,
    change,
    clock,
    cst,
    due,
    instant,
    move,
    raise_ticket,
    read,
    reply,
)


@pytest.fixture
def frozen(monkeypatch) -> FrozenTime:  # type: ignore[no-untyped-def]
    return FrozenTime(monkeypatch, cst(2026, 11, 3, 9))


def dues(detail) -> dict[str, datetime]:  # type: ignore[no-untyped-def]
    return {c["metric"]: due(detail, c["metric"]) for c in detail["clocks"]}


# --- the standard policy on cn-standard ----------------------------------------------------------------


def test_a_p1_raised_on_the_mid_autumn_holiday_is_due_the_next_working_morning(client, world, frozen):
    """Frappe Helpdesk #2075: first response wrong for tickets raised on a non-working day."""
    frozen.set(cst(2026, 9, 25, 17))
    body = raise_ticket(client, world, priority="P1", on_site_required=True)
    assert dues(body) == {
        "first_response": cst(2026, 9, 28, 9, 30),
        "on_site": cst(2026, 9, 28, 14),  # 240 min: 09:00-12:00, then 13:00-14:00 after lunch
        "resolution": cst(2026, 9, 28, 18),  # 480 min end at 18:00 that day, not 09:00 the next
    }
    assert {instant(c["started_at"]) for c in body["clocks"]} == {cst(2026, 9, 25, 17)}


def test_an_adjusted_working_sunday_counts(client, world, frozen):
    frozen.set(cst(2026, 9, 18, 17, 45))  # Friday: 15 minutes left today, Saturday closed, Sunday 9/20 open
    body = raise_ticket(client, world, priority="P1")
    assert due(body, "first_response") == cst(2026, 9, 20, 9, 15)


@pytest.mark.parametrize(("priority", "metric", "expected"), [
    ("P1", "first_response", cst(2026, 10, 8, 9, 30)),
    ("P2", "resolution", cst(2026, 10, 9, 18)),  # 16 h: Thu 10/8 and Fri 10/9
    ("P3", "resolution", cst(2026, 10, 13, 18)),  # 40 h: 10/8, 10/9, Sat 10/10 (调休), 10/12, 10/13
])
def test_a_ticket_raised_on_national_day_starts_counting_on_the_first_working_day(client, world, frozen, priority,
                                                                                 metric, expected):
    frozen.set(cst(2026, 10, 1, 10))
    assert due(raise_ticket(client, world, priority=priority), metric) == expected


def test_a_late_first_reply_meets_the_clock_as_breached(client, world, frozen):
    t = raise_ticket(client, world, priority="P1")["id"]
    frozen.set(cst(2026, 11, 3, 10))
    reply(client, world, t, "抱歉久等。")
    first = clock(read(client, world, t), "first_response")
    assert first["state"] == "breached"
    assert (instant(first["met_at"]), instant(first["breached_at"])) == (cst(2026, 11, 3, 10), cst(2026, 11, 3, 9, 30))


def test_the_api_shows_each_clocks_state_and_working_time_left(client, world, frozen):
    t = raise_ticket(client, world, priority="P1")["id"]  # Tue 09:00, first response due 09:30

    def first() -> tuple[str, int | None]:
        c = clock(read(client, world, t), "first_response")
        return c["state"], c["seconds_left"]

    frozen.set(cst(2026, 11, 3, 9, 10))
    assert first() == ("running", 20 * 60)
    move(client, world, t, "waiting_customer")
    frozen.set(cst(2026, 11, 3, 15))
    assert first() == ("paused", 20 * 60)  # what is left stays while waiting on the customer
    move(client, world, t, "in_progress")
    frozen.set(cst(2026, 11, 3, 17, 50))
    assert first() == ("breached", -150 * 60)  # due 15:20, late by 2 h 30 working minutes
    frozen.set(cst(2026, 11, 4, 9, 5))
    assert first() == ("breached", -165 * 60)  # the night does not count
    reply(client, world, t, "抱歉。")
    assert first() == ("breached", None)  # met, but late


def test_a_ticket_waiting_on_the_customer_does_not_outrank_one_about_to_breach(client, world, frozen):
    """The queue is ordered by time left; a paused clock's stored due time is its due time as of the pause."""
    waiting = raise_ticket(client, world, priority="P1", title="等客户回复")["id"]  # Tue 09:00
    frozen.set(cst(2026, 11, 3, 9, 5))
    move(client, world, waiting, "waiting_customer")  # 25 working minutes left, and not running
    frozen.set(cst(2026, 11, 3, 14))
    urgent = raise_ticket(client, world, priority="P1", title="即将超时")["id"]  # due 14:30
    frozen.set(cst(2026, 11, 3, 14, 15))
    queue = [t["id"] for t in world.call(client, "GET", "/api/v1/tickets", "operator_agent").json()["items"]]
    assert queue == [urgent, waiting]


# --- pauses --------------------------------------------------------------------------------------------


def test_a_pause_over_a_working_afternoon_moves_due_by_exactly_that_working_time(client, world, frozen, db):
    t = raise_ticket(client, world, priority="P3")["id"]  # Tue 2026-11-03 09:00
    before = dues(read(client, world, t))
    assert before == {"first_response": cst(2026, 11, 3, 14), "resolution": cst(2026, 11, 9, 18)}

    frozen.set(cst(2026, 11, 3, 13))
    paused = move(client, world, t, "waiting_customer", comment="请提供日志。")
    assert dues(paused) == before  # while waiting nothing is lost yet
    frozen.set(cst(2026, 11, 4, 9))  # the customer answers the next morning: 13:00-18:00 was paused
    reply(client, world, t, "日志已上传。", "customer_a_member")

    after = dues(read(client, world, t))
    assert after == {"first_response": cst(2026, 11, 4, 10), "resolution": cst(2026, 11, 10, 15)}
    cal = work_calendar(db, 2)
    for metric in before:
        assert working_seconds(cal, before[metric], after[metric]) == 5 * 3600


def test_a_pause_outside_working_hours_changes_nothing(client, world, frozen):
    """ERPNext PR #49414 added wall-clock pause time to business-hours deadlines; only working time counts."""
    frozen.set(cst(2026, 11, 6, 9))
    t = raise_ticket(client, world, priority="P3")["id"]
    before = dues(read(client, world, t))
    frozen.set(cst(2026, 11, 6, 18))
    move(client, world, t, "waiting_customer")
    frozen.set(cst(2026, 11, 9, 9))  # Monday morning
    move(client, world, t, "in_progress")
    assert dues(read(client, world, t)) == before


def test_a_pause_on_holidays_after_a_holiday_start(client, world, frozen):
    """Frappe Helpdesk #2449: hold time added to the creation time went wrong for non-working-day tickets."""
    frozen.set(cst(2026, 10, 3, 10))  # National Day
    t = raise_ticket(client, world, priority="P2")["id"]
    frozen.set(cst(2026, 10, 4, 10))
    move(client, world, t, "waiting_customer")
    frozen.set(cst(2026, 10, 9, 10))  # paused across all of Thu 10/8 and Fri 10/9 09:00-10:00
    reply(client, world, t, "补充信息。", "customer_a_member")
    assert dues(read(client, world, t)) == {
        "first_response": cst(2026, 10, 9, 11),
        "resolution": cst(2026, 10, 12, 10),  # 7 h on 10/9, 8 h on Sat 10/10 (调休), 1 h on Mon 10/12
    }


# --- priority, reopening, another policy ---------------------------------------------------------------


def test_a_priority_raise_applies_retroactively_and_keeps_the_pause_history(client, world, frozen):
    t = raise_ticket(client, world, priority="P3")["id"]  # Tue 09:00
    frozen.set(cst(2026, 11, 3, 10))
    move(client, world, t, "waiting_customer")
    frozen.set(cst(2026, 11, 3, 11))
    reply(client, world, t, "已回复。", "customer_a_member")
    frozen.set(cst(2026, 11, 3, 11, 30))
    body = change(client, world, t, priority="P1")
    assert dues(body) == {
        "first_response": cst(2026, 11, 3, 9, 30),  # already past: the P1 promise was broken at 09:30
        "resolution": cst(2026, 11, 4, 10),  # 8 working hours from 09:00 plus the 1 h pause
    }
    assert clock(body, "first_response")["state"] == "breached"


def test_reopening_starts_resolution_again_from_the_reopening(client, world, frozen):
    t = raise_ticket(client, world, priority="P1")["id"]
    frozen.set(cst(2026, 11, 3, 11))
    move(client, world, t, "resolved")
    frozen.set(cst(2026, 11, 4, 10))
    body = move(client, world, t, "in_progress", "customer_a_member")
    second = clock(body, "resolution")
    assert (second["cycle"], instant(second["started_at"])) == (2, cst(2026, 11, 4, 10))
    assert due(body, "resolution") == cst(2026, 11, 5, 10)  # 7 h on Wednesday, 1 h on Thursday


def test_a_customer_on_the_24x7_policy_gets_wall_clock_targets(client, world, frozen, db):
    critical = db.get(SlaPolicy, 2)
    own = SlaPolicy(name="甲客户 7x24 关键业务", calendar_id=critical.calendar_id,
                    customer_org_id=world.orgs["customer_a"].id, is_default=True, targets=critical.targets,
                    pause_statuses=critical.pause_statuses, escalations=critical.escalations, is_active=True)
    db.add(own)
    db.commit()

    frozen.set(cst(2026, 9, 25, 17))  # the Mid-Autumn holiday counts on 24x7
    body = raise_ticket(client, world, priority="P1", on_site_required=True)
    assert body["sla_policy_id"] == own.id
    assert dues(body) == {
        "first_response": cst(2026, 9, 25, 17, 15),
        "on_site": cst(2026, 9, 25, 21),
        "resolution": cst(2026, 9, 26, 17),  # "fixed within 24 hours" is wall-clock here
    }
    other = raise_ticket(client, world, "customer_b_admin", priority="P1")
    assert other["sla_policy_id"] == 1
    assert due(other, "first_response") == cst(2026, 9, 28, 9, 30)


# --- a property over random histories ------------------------------------------------------------------

YEAR_START = cst(2026, 1, 1)
starts = st.integers(0, 300 * 86400).map(lambda s: YEAR_START + timedelta(seconds=s))
gaps = st.one_of(st.integers(60, 4 * 3600), st.integers(60, 5 * 86400))
steps = st.lists(st.tuples(gaps, st.booleans()), min_size=1, max_size=7)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=starts, priority=st.sampled_from(["P1", "P2", "P3", "P4"]), history=steps)
def test_due_minus_paused_working_time_is_the_target_and_pauses_never_bring_due_forward(
        db, world, frozen, start, priority, history):
    agent, customer = actor_of(db, world.users["operator_agent"]), actor_of(db, world.users["customer_a_member"])
    frozen.set(start)
    ticket = service.open_ticket(db, customer, TicketCreate(title="随机", description="随机历史", priority=priority))
    cal = work_calendar(db, db.get_one(SlaPolicy, ticket.sla_policy_id).calendar_id)

    def current() -> dict[str, SlaClock]:
        rows = db.scalars(select(SlaClock).where(SlaClock.ticket_id == ticket.id).order_by(SlaClock.cycle))
        return {c.metric: c for c in rows}

    last = {m: c.due_at for m, c in current().items()}
    if len(history) % 2:
        history = [*history, (3600, False)]  # end running, so every pause is closed
    for gap, by_reply in history:
        frozen.advance(seconds=gap)
        waiting = db.get_one(Ticket, ticket.id).status == "waiting_customer"
        if waiting and by_reply:
            service.comment(db, customer, ticket.id, CommentIn(body="客户回复"))
        else:
            service.transition(db, agent, ticket.id, TransitionIn(status="in_progress" if waiting else
                                                                  "waiting_customer"))
        for metric, c in current().items():
            assert c.due_at >= last[metric], "a pause brought a due time forward"
            last[metric] = c.due_at

    for metric, c in current().items():
        assert c.paused_since is None
        pauses = [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in c.pauses]
        assert len(pauses) == len(history) // 2
        paused = sum(working_seconds(cal, max(a, c.started_at), min(b, c.due_at))
                     for a, b in pauses if min(b, c.due_at) > max(a, c.started_at))
        assert working_seconds(cal, c.started_at, c.due_at) - paused == c.target_seconds, metric


def test_clocks_use_the_calendar_of_their_policy(db):
    """The seeded policies: the global default on cn-standard, the critical one on 24x7."""
    assert [(p.id, p.calendar_id, p.is_default, p.customer_org_id)
            for p in db.scalars(select(SlaPolicy).order_by(SlaPolicy.id))] == [(1, 2, True, None), (2, 1, False, None)]
