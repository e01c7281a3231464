"""The escalation sweep, end to end: tickets raised in the past (through the service desk, with its time set
back) in a fresh committed database, then the real `huoban worker` process sweeps them. Each step (50, 80,
100 %) fires exactly once per clock, through the outbox, also when the sweep runs twice or the worker is
killed in the middle of one (ServiceNow notifies at 50/75/100 %; the seeded policies at 50/80/100 %).

The customer is on a 24x7 policy (P1: first response 15 min, resolution 24 h, wall-clock), so how far a
clock has run follows from how long ago its ticket was raised, whatever day the tests run on.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import sessionmaker

from huoban.db import make_engine
from huoban.models import OutboxMessage, SlaEscalation, Ticket, TicketEvent, User, utcnow
from huoban.service_desk import service
from huoban.service_desk.schemas import CommentIn
from tests.conftest import TEST_DATABASE_URL
from tests.service_desk.factories import Desk, FrozenTime, actor_of, killed_at_exit

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def desk(fresh_database_url, tmp_path, monkeypatch) -> Iterator[Desk]:  # type: ignore[no-untyped-def]
    engine = make_engine(fresh_database_url)
    desk = Desk(fresh_database_url, engine, sessionmaker(engine, expire_on_commit=False), tmp_path,
                FrozenTime(monkeypatch, utcnow()))
    desk.seed()
    yield desk
    engine.dispose()


def expected_recipients(desk: Desk) -> dict[int, list[str]]:
    e = desk.emails
    return {
        50: [e["agent"]],
        80: [e["agent"], e["dispatcher"], e["dispatcher2"], e["account_manager"]],
        100: [e["account_manager"], e["admin"]],
    }


def fired(desk: Desk) -> Counter[tuple[int, int]]:
    return Counter((e.clock_id, e.percent) for e in desk.escalations())


def test_each_step_fires_once_through_the_outbox_and_the_breach_is_recorded(desk):
    now = utcnow()
    with desk.session() as s, s.begin():
        late = desk.open_ticket(s, now - 30 * HOUR).id  # both clocks past 100 %
        half = desk.open_ticket(s, now - 13 * HOUR).id  # first response past 100 %, resolution at 54 %
        kept = desk.open_ticket(s, now - 30 * HOUR).id  # answered and resolved in time
        desk.time.set(now - 30 * HOUR + 5 * MINUTE)
        service.comment(s, actor_of(s, s.get_one(User, desk.ids["agent"])), kept, CommentIn(body="已受理"))
        desk.move(s, kept, "resolved", now - 29 * HOUR)
    clocks = {(c.ticket_id, c.metric): c for c in desk.clocks()}

    desk.worker_once()

    expected = {(clocks[late, m].id, p) for m in ("first_response", "resolution") for p in (50, 80, 100)}
    expected |= {(clocks[half, "first_response"].id, p) for p in (50, 80, 100)}
    expected |= {(clocks[half, "resolution"].id, 50)}
    assert fired(desk) == Counter(expected)

    recipients = expected_recipients(desk)
    escalations = desk.escalations()
    for esc in escalations:
        assert esc.notified == recipients[esc.percent], esc.percent
    mails = {m.dedupe_key: m for m in desk.sla_mails()}
    assert set(mails) == {f"sla:{clock_id}:{percent}" for clock_id, percent in expected}
    for esc in escalations:
        mail = mails[f"sla:{esc.clock_id}:{esc.percent}"]
        assert mail.kind == "email" and mail.payload["to"] == recipients[esc.percent]
        assert mail.topic == ("sla.breach" if esc.percent == 100 else "sla.escalation")
        assert ("违约 breach" in mail.payload["subject"]) == (esc.percent == 100)

    after = {(c.ticket_id, c.metric): c for c in desk.clocks()}
    for key in ((late, "first_response"), (late, "resolution"), (half, "first_response")):
        assert after[key].breached_at == after[key].due_at, key
        assert after[key].next_escalation_at is None
    running = after[half, "resolution"]
    assert running.breached_at is None and running.next_escalation_percent == 80
    assert running.next_escalation_at == running.started_at + timedelta(hours=24 * 0.8)
    assert all(c.breached_at is None and c.met_at is not None for k, c in after.items() if k[0] == kept)

    with desk.session() as s:
        events = list(s.scalars(select(TicketEvent).where(TicketEvent.kind.in_(["escalation", "breach"]))))
    assert sorted(e.to_value for e in events if e.ticket_id == half) == [
        "first_response:100", "first_response:50", "first_response:80", "resolution:50"]
    assert not any(e.is_public for e in events)  # operator-only timeline entries

    desk.worker_once()  # the sweep again: nothing new
    assert [e.id for e in desk.escalations()] == [e.id for e in escalations]
    assert sorted(m.dedupe_key for m in desk.sla_mails()) == sorted(mails)
    with desk.session() as s:
        assert s.scalar(select(func.count()).select_from(TicketEvent).where(
            TicketEvent.kind.in_(["escalation", "breach"]))) == len(events)


def test_a_paused_clock_does_not_escalate_and_its_pause_does_not_count(desk):
    now = utcnow()
    with desk.session() as s, s.begin():
        ticket = desk.open_ticket(s, now - 30 * HOUR).id
        desk.move(s, ticket, "waiting_customer", now - 30 * HOUR + 5 * MINUTE)

    desk.worker_once()
    assert fired(desk) == Counter()
    assert all(c.paused_since is not None and c.breached_at is None for c in desk.clocks(ticket))

    with desk.session() as s, s.begin():  # the customer answers now: 5 of the 15 minutes were used
        desk.time.set(now)
        customer = actor_of(s, s.get_one(User, desk.ids["customer"]))
        service.comment(s, customer, ticket, CommentIn(body="设备序列号 SN-42"))
    desk.worker_once()
    assert fired(desk) == Counter()
    first = {c.metric: c for c in desk.clocks(ticket)}["first_response"]
    assert first.next_escalation_percent == 50
    assert first.next_escalation_at == now + timedelta(minutes=2.5)  # 7.5 min of work, 5 done before the pause
    assert first.due_at == now + 10 * MINUTE


# --- a worker killed in the middle of a sweep ----------------------------------------------------------

TICKETS_DUE = 80  # 160 clocks, 480 steps: several seconds of sweeping to land the kill in


def open_transactions(desk: Desk) -> int:
    """Other sessions still inside a transaction (a killed client's backend may take a moment to notice)."""
    with desk.engine.connect() as conn:
        return conn.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"))


def test_a_worker_killed_mid_sweep_leaves_every_step_fired_exactly_once(desk):
    now = utcnow()
    with desk.session() as s, s.begin():
        for n in range(TICKETS_DUE):
            desk.open_ticket(s, now - 30 * HOUR - n * MINUTE)
    clock_ids = {c.id for c in desk.clocks()}
    expected = Counter({(clock_id, p): 1 for clock_id in clock_ids for p in (50, 80, 100)})

    with killed_at_exit(desk.start_worker("doomed", HUOBAN_SWEEP_INTERVAL_SECONDS="0.2")) as worker:
        deadline = time.monotonic() + 60
        while not desk.escalations():
            assert worker.poll() is None and time.monotonic() < deadline, desk.log("doomed")
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    at_kill = fired(desk)
    assert 0 < len(at_kill) < len(expected), "the kill should land inside the sweep"
    # one transaction per clock: each clock has all of its due steps or none of them, and each its e-mail
    assert set(Counter(clock_id for clock_id, _ in at_kill).values()) == {3}
    assert {m.dedupe_key for m in desk.sla_mails()} == {f"sla:{c}:{p}" for c, p in at_kill}

    if TEST_DATABASE_URL.startswith("postgresql"):
        deadline = time.monotonic() + 10
        while open_transactions(desk):
            assert time.monotonic() < deadline, "the killed worker's transaction is still open"
            time.sleep(0.05)
    desk.worker_once()

    assert fired(desk) == expected
    mails = Counter(m.dedupe_key for m in desk.sla_mails())
    assert mails == Counter({f"sla:{c}:{p}": 1 for c, p in expected})
    assert all(c.breached_at == c.due_at for c in desk.clocks())
    with desk.session() as s:
        assert s.scalar(select(func.count()).select_from(SlaEscalation)) == len(expected)
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.topic.like("sla.%"))) == len(expected)


@pytest.mark.skipif(not TEST_DATABASE_URL.startswith("postgresql"), reason="row locks: PostgreSQL")
def test_the_sweep_passes_over_a_ticket_being_changed_and_fires_its_steps_next_time(desk):
    """The sweep takes the writers' lock order (ticket, then clock): a ticket held by a change is skipped, not
    waited for while its clock is held (which deadlocked against the change)."""
    now = utcnow()
    with desk.session() as s, s.begin():
        ticket_id = desk.open_ticket(s, now - 30 * HOUR).id
    with desk.session() as holder, holder.begin():
        holder.execute(select(Ticket.id).where(Ticket.id == ticket_id).with_for_update())
        done = subprocess.run([sys.executable, "-m", "huoban", "worker", "--once", "--name", "blocked"],
                              env=desk.env(), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert not desk.escalations()
    desk.worker_once()
    assert sorted(e.percent for e in desk.escalations()) == [50, 50, 80, 80, 100, 100]
