"""Recompute the due and escalation instants of every open clock after a calendar or policy edit.

Zammad never recalculated after a calendar change (#534) and OCA looped over every open ticket × SLA in
a cron; here an edit recomputes, in the edit's own transaction, exactly the open clocks it can move, with
the same arithmetic as for a single ticket (`clocks.recompute`). It stays fast for 100,000 clocks (about
5 s on PostgreSQL on a 2-core machine, see benchmarks/sla_bench.py): keyset batches of 5,000 rows with only
the columns the computation needs, locked (FOR UPDATE) so a concurrent ticket change is not overwritten
with stale values; each calendar parsed once; one query per batch for the escalation steps already fired;
and only the rows whose values changed written back by primary key, one statement per batch. The open work
orders of the tickets whose on-site clock may have moved then take the new due time, in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import cast as typed

from sqlalchemy import ColumnElement, DateTime, Text, cast, func, select, type_coerce, update
from sqlalchemy.orm import Session

from huoban.dispatch.service import refresh_for_tickets
from huoban.models import SlaClock, SlaEscalation, SlaPolicy, Ticket
from huoban.sla import clocks as clock_rules
from huoban.sla.calendar import WorkCalendar
from huoban.sla.store import forget_calendar, work_calendar

BATCH = 5000

Progress = Callable[[int, int], None]
"""Called after each batch with (clocks recomputed, of which changed)."""


@dataclass(slots=True)
class _Clock:
    """The columns of an open clock that `clocks.recompute` reads and writes."""

    id: int
    started_at: datetime
    target_seconds: int
    pauses: list[list[str]]
    paused_since: datetime | None
    breached_at: datetime | None
    due_at: datetime | None = None
    next_escalation_at: datetime | None = None
    next_escalation_percent: int | None = None
    met_at: None = None
    stopped_at: None = None


def recompute_calendar(session: Session, calendar_id: int, now: datetime, progress: Progress | None = None) -> int:
    """Recompute every open clock on the calendar (after an edit to it); returns how many."""
    forget_calendar(session, calendar_id)
    count = _recompute(session, [SlaClock.calendar_id == calendar_id], now, None, progress)
    refresh_for_tickets(session, select(SlaClock.ticket_id).where(
        SlaClock.calendar_id == calendar_id, SlaClock.metric == "on_site", SlaClock.met_at.is_(None),
        SlaClock.stopped_at.is_(None)), now)
    return count


def recompute_policy(session: Session, policy: SlaPolicy, now: datetime, progress: Progress | None = None) -> int:
    """Move the open clocks of the policy's tickets to its calendar, its targets for each ticket's priority
    (a metric the policy no longer targets keeps its old target) and its escalation steps; returns how many."""
    forget_calendar(session, policy.calendar_id)
    count = _recompute(session, [Ticket.sla_policy_id == policy.id], now, policy, progress)
    refresh_for_tickets(session, select(Ticket.id).where(Ticket.sla_policy_id == policy.id), now)
    return count


def open_clocks(session: Session, calendar_id: int) -> int:
    """How many open clocks run on the calendar (what an edit to it will recompute)."""
    return session.scalar(select(func.count()).select_from(SlaClock).where(
        SlaClock.calendar_id == calendar_id, SlaClock.met_at.is_(None), SlaClock.stopped_at.is_(None))) or 0


def _recompute(
    session: Session, criteria: Sequence[ColumnElement[bool]], now: datetime, policy: SlaPolicy | None,
    progress: Progress | None,
) -> int:
    session.flush()
    dialect = session.get_bind().dialect
    psycopg = dialect.name == "postgresql" and dialect.driver == "psycopg"

    def instant(column: Any) -> Any:
        # psycopg returns aware datetimes already; UTCDateTime's per-value conversion is for SQLite
        return type_coerce(column, DateTime(timezone=True)).label(column.key) if psycopg else column

    query = (
        select(SlaClock.id, SlaClock.metric, SlaClock.calendar_id, SlaClock.target_seconds,
               instant(SlaClock.started_at), cast(SlaClock.pauses, Text).label("pauses"),
               instant(SlaClock.paused_since), instant(SlaClock.breached_at), instant(SlaClock.due_at),
               instant(SlaClock.next_escalation_at), SlaClock.next_escalation_percent, Ticket.priority,
               Ticket.sla_policy_id)
        .join(Ticket, Ticket.id == SlaClock.ticket_id)
        .where(SlaClock.met_at.is_(None), SlaClock.stopped_at.is_(None), *criteria)
        .order_by(SlaClock.id)
        .limit(BATCH)
        .with_for_update(of=SlaClock)
    )
    calendars: dict[int, WorkCalendar] = {}
    percents: dict[int, list[int]] = {}
    targets: dict[str, dict[str, int]] = {}
    if policy is not None:
        percents[policy.id] = clock_rules.escalation_percents(policy)
    done = 0
    last = 0
    pending: list[dict[str, Any]] = []
    conn = session.connection()
    while True:
        rows = conn.execute(query.where(SlaClock.id > last)).all()
        if not rows:
            _write(session, pending, psycopg)
            return done
        first, last = rows[0].id, rows[-1].id
        fired: dict[int, set[int]] = {}
        for clock_id, percent in conn.execute(select(SlaEscalation.clock_id, SlaEscalation.percent).where(
                SlaEscalation.clock_id >= first, SlaEscalation.clock_id <= last)):
            fired.setdefault(clock_id, set()).add(percent)
        _load_percents(session, {row.sla_policy_id for row in rows} - percents.keys(), percents)
        for row in rows:  # the calendars first: computing below must not touch the connection
            calendar_id = policy.calendar_id if policy is not None else row.calendar_id
            if calendar_id not in calendars:
                calendars[calendar_id] = work_calendar(session, calendar_id)
        with _writing(session, pending, psycopg):  # the previous batch's UPDATE runs while this one computes
            changes: list[dict[str, Any]] = []
            for row in rows:
                calendar_id, target = row.calendar_id, row.target_seconds
                if policy is not None:
                    calendar_id = policy.calendar_id
                    if row.priority not in targets:
                        targets[row.priority] = clock_rules.targets_for(policy, row.priority)
                    minutes = targets[row.priority].get(row.metric)
                    target = minutes * 60 if minutes else target
                pauses = json.loads(row.pauses) if row.pauses not in ("[]", None) else []  # nearly always []
                clock = _Clock(row.id, row.started_at, target, pauses, row.paused_since, row.breached_at)
                clock_rules.recompute(typed(SlaClock, clock), calendars[calendar_id], percents[row.sla_policy_id],
                                      fired.get(row.id, set()), now)
                if (clock.due_at != row.due_at or clock.next_escalation_at != row.next_escalation_at
                        or clock.next_escalation_percent != row.next_escalation_percent
                        or clock.breached_at != row.breached_at or calendar_id != row.calendar_id
                        or target != row.target_seconds):
                    change = {"id": row.id, "due_at": clock.due_at, "next_escalation_at": clock.next_escalation_at,
                              "next_escalation_percent": clock.next_escalation_percent,
                              "breached_at": clock.breached_at}
                    if policy is not None:
                        change |= {"calendar_id": calendar_id, "target_seconds": target}
                    changes.append(change)
        pending = changes
        done += len(rows)
        if progress is not None:
            progress(len(rows), len(changes))


_PG_TYPES = {"id": "bigint", "due_at": "timestamptz", "next_escalation_at": "timestamptz",
             "next_escalation_percent": "integer", "breached_at": "timestamptz", "calendar_id": "integer",
             "target_seconds": "integer"}


def _write(session: Session, changes: list[dict[str, Any]], psycopg: bool) -> None:
    with _writing(session, changes, psycopg):
        pass


@contextmanager
def _writing(session: Session, changes: list[dict[str, Any]], psycopg: bool) -> Iterator[None]:
    """Write the changed columns back by primary key, keeping loaded SlaClock objects in step.

    On PostgreSQL the UPDATE is sent in psycopg's pipeline mode and its result awaited only when the block
    ends, so the server writes one batch while Python computes the next: the two take about as long, and a
    2-core machine does both at once. The block must not use the connection.
    """
    if not changes:
        yield
        return
    if not psycopg:
        session.execute(update(SlaClock), changes)  # executemany by primary key; updates loaded objects too
        yield
        return
    # One UPDATE ... FROM unnest(arrays) per batch: an executemany, even pipelined, sends a statement a row
    # and spends ~70 µs on each. The arrays go as text literals ({1,2,NULL}, ISO 8601 instants), which the
    # server parses in C; psycopg would dump Python lists element by element, slower than the UPDATE itself.
    names = list(changes[0])
    assigned = ", ".join(f"{name} = v.{name}" for name in names if name != "id")
    arrays = ", ".join(f"%({name})s::{_PG_TYPES[name]}[]" for name in names)
    statement = (f"UPDATE sla_clocks AS c SET {assigned} FROM unnest({arrays}) AS v({', '.join(names)}) "
                 "WHERE c.id = v.id")
    params = {name: _array([change[name] for change in changes]) for name in names}
    driver: Any = session.connection().connection.driver_connection  # a psycopg.Connection
    with driver.cursor() as cursor, driver.pipeline():
        cursor.execute(statement, params)
        yield
    ids = {change["id"] for change in changes}
    for obj in list(session.identity_map.values()):
        if isinstance(obj, SlaClock) and obj.id in ids:
            session.expire(obj, names[1:])


def _array(values: list[Any]) -> str:
    """A PostgreSQL array literal of ints or aware datetimes (neither needs quoting)."""
    return "{" + ",".join("NULL" if v is None else v.isoformat() if isinstance(v, datetime) else str(v)
                          for v in values) + "}"


def _load_percents(session: Session, policy_ids: set[int], into: dict[int, list[int]]) -> None:
    if policy_ids:
        for policy_id, steps in session.execute(
                select(SlaPolicy.id, SlaPolicy.escalations).where(SlaPolicy.id.in_(policy_ids))):
            into[policy_id] = sorted({int(step["percent"]) for step in steps or []})
