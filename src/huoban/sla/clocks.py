"""SLA clocks on tickets: start, pause, resume, meet, retarget and recompute.

A clock stores its inputs (start, target, closed pauses, an open pause) and derives `due_at` and the
next escalation instant from them and its calendar, so a priority change or a calendar edit
recomputes exactly, from the ticket's history (ServiceNow's retroactive start), never by adding
wall-clock time to a business-hours deadline (ERPNext PR #49414).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huoban.models import SlaClock, SlaEscalation, SlaPolicy, Ticket
from huoban.sla.calendar import WorkCalendar, add_working_time, working_seconds
from huoban.sla.store import work_calendar

METRICS = ("first_response", "resolution", "on_site")

Interval = tuple[datetime, datetime]


def _closed_pauses(clock: SlaClock) -> list[Interval]:
    return [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in clock.pauses or []]


def pauses_until(clock: SlaClock, now: datetime) -> list[Interval]:
    """Closed pauses plus the open one, taken as lasting until `now`."""
    pauses = _closed_pauses(clock)
    if clock.paused_since is not None and now > clock.paused_since:
        pauses.append((clock.paused_since, now))
    return pauses


def escalation_percents(policy: SlaPolicy) -> list[int]:
    return sorted({int(step["percent"]) for step in policy.escalations or []})


def recompute(clock: SlaClock, cal: WorkCalendar, percents: list[int], fired: set[int], now: datetime) -> None:
    """Derive due_at and the next escalation from the clock's inputs (idempotent)."""
    pauses = pauses_until(clock, now)
    clock.due_at = add_working_time(cal, clock.started_at, clock.target_seconds, pauses)
    clock.next_escalation_at = None
    clock.next_escalation_percent = None
    if clock.met_at is not None or clock.stopped_at is not None:
        return
    if clock.breached_at is not None and clock.due_at > now:
        clock.breached_at = None  # a longer target (lower priority) or a calendar edit lifted the breach
    if clock.paused_since is not None:
        return  # no escalation while waiting on the customer
    pending = [p for p in percents if p not in fired]
    if pending:
        percent = pending[0]
        clock.next_escalation_percent = percent
        clock.next_escalation_at = add_working_time(
            cal, clock.started_at, clock.target_seconds * percent // 100, pauses
        )
    elif clock.breached_at is None:
        # no 100 % step configured: the sweep still records the breach at the due time
        clock.next_escalation_at = clock.due_at
        clock.next_escalation_percent = 100


def fired_percents(session: Session, clock_ids: Iterable[int]) -> dict[int, set[int]]:
    ids = list(clock_ids)
    out: dict[int, set[int]] = {i: set() for i in ids}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for clock_id, percent in session.execute(
            select(SlaEscalation.clock_id, SlaEscalation.percent).where(SlaEscalation.clock_id.in_(chunk))
        ):
            out[clock_id].add(percent)
    return out


def current_clocks(session: Session, ticket: Ticket) -> dict[str, SlaClock]:
    latest: dict[str, SlaClock] = {}
    for clock in session.scalars(select(SlaClock).where(SlaClock.ticket_id == ticket.id).order_by(SlaClock.cycle)):
        latest[clock.metric] = clock
    return latest


def targets_for(policy: SlaPolicy, priority: str) -> dict[str, int]:
    """Working minutes per metric for a priority."""
    return {k: int(v) for k, v in (policy.targets.get(priority) or {}).items() if k in METRICS and v}


def refresh(session: Session, policy: SlaPolicy, clocks: Iterable[SlaClock], now: datetime) -> None:
    clocks = list(clocks)
    fired = fired_percents(session, [c.id for c in clocks if c.id is not None])
    percents = escalation_percents(policy)
    for clock in clocks:
        recompute(clock, work_calendar(session, clock.calendar_id), percents, fired.get(clock.id, set()), now)
    session.flush()


def _new_clock(ticket: Ticket, policy: SlaPolicy, metric: str, minutes: int, start: datetime, cycle: int) -> SlaClock:
    return SlaClock(
        ticket_id=ticket.id, metric=metric, cycle=cycle, calendar_id=policy.calendar_id,
        target_seconds=minutes * 60, started_at=start, pauses=[],
    )


def start_clocks(session: Session, ticket: Ticket, policy: SlaPolicy, now: datetime) -> list[SlaClock]:
    """Start the policy's clocks for the ticket's priority; on-site only when a visit is required."""
    clocks = [
        _new_clock(ticket, policy, metric, minutes, ticket.created_at, 1)
        for metric, minutes in targets_for(policy, ticket.priority).items()
        if metric != "on_site" or ticket.on_site_required
    ]
    session.add_all(clocks)
    session.flush()
    refresh(session, policy, clocks, now)
    return clocks


def running(clock: SlaClock) -> bool:
    return clock.met_at is None and clock.stopped_at is None


def _close_pause(clock: SlaClock, now: datetime) -> None:
    since = clock.paused_since
    if since is not None and now > since:
        clock.pauses = [*(clock.pauses or []), [since.isoformat(), now.isoformat()]]
    clock.paused_since = None


def pause(session: Session, ticket: Ticket, policy: SlaPolicy, now: datetime) -> None:
    clocks = [c for c in current_clocks(session, ticket).values() if running(c) and c.paused_since is None]
    for clock in clocks:
        clock.paused_since = now
    refresh(session, policy, clocks, now)


def resume(session: Session, ticket: Ticket, policy: SlaPolicy, now: datetime) -> None:
    clocks = [c for c in current_clocks(session, ticket).values() if c.paused_since is not None]
    for clock in clocks:
        _close_pause(clock, now)
    refresh(session, policy, clocks, now)


def meet(session: Session, ticket: Ticket, policy: SlaPolicy, metric: str, now: datetime) -> SlaClock | None:
    """Stop a metric's clock as met at `now`; a clock met late keeps (or gets) its breach."""
    clock = current_clocks(session, ticket).get(metric)
    if clock is None or not running(clock):
        return clock
    _close_pause(clock, now)
    clock.met_at = now
    refresh(session, policy, [clock], now)
    if clock.due_at is not None and now > clock.due_at and clock.breached_at is None:
        clock.breached_at = clock.due_at
    return clock


def stop_all(session: Session, ticket: Ticket, now: datetime) -> None:
    """Closing a ticket stops whatever still runs (e.g. an on-site clock no visit was needed for)."""
    for clock in current_clocks(session, ticket).values():
        if running(clock):
            _close_pause(clock, now)
            clock.stopped_at = now
            clock.next_escalation_at = None
            clock.next_escalation_percent = None
    session.flush()


def restart_resolution(session: Session, ticket: Ticket, policy: SlaPolicy, now: datetime) -> SlaClock | None:
    """Reopening starts a new resolution cycle from `now` with the current priority's target."""
    minutes = targets_for(policy, ticket.priority).get("resolution")
    old = current_clocks(session, ticket).get("resolution")
    if minutes is None:
        return None
    if old is not None and running(old):
        old.stopped_at = now
        old.next_escalation_at = None
        old.next_escalation_percent = None
    clock = _new_clock(ticket, policy, "resolution", minutes, now, (old.cycle + 1) if old else 1)
    session.add(clock)
    session.flush()
    refresh(session, policy, [clock], now)
    return clock


def retarget(session: Session, ticket: Ticket, policy: SlaPolicy, now: datetime) -> None:
    """A priority change applies the new targets retroactively from each clock's start."""
    targets = targets_for(policy, ticket.priority)
    clocks = current_clocks(session, ticket)
    for metric, clock in clocks.items():
        if metric in targets and running(clock):
            clock.target_seconds = targets[metric] * 60
    for metric, minutes in targets.items():
        if metric not in clocks and (metric != "on_site" or ticket.on_site_required):
            clocks[metric] = _new_clock(ticket, policy, metric, minutes, ticket.created_at, 1)
            session.add(clocks[metric])
    session.flush()
    refresh(session, policy, [c for c in clocks.values() if running(c)], now)


@dataclass
class ClockView:
    state: str
    seconds_left: int | None


def view(clock: SlaClock, cal: WorkCalendar, now: datetime) -> ClockView:
    """What a person needs to see: running, paused, met, breached or stopped, and working time left."""
    if clock.met_at is not None:
        return ClockView("breached" if clock.breached_at else "met", None)
    if clock.stopped_at is not None:
        return ClockView("stopped", None)
    if clock.due_at is None:
        return ClockView("running", None)
    if clock.paused_since is not None:
        # while paused the due time moves with the pause; what is left stays the same
        due = add_working_time(cal, clock.started_at, clock.target_seconds, pauses_until(clock, now))
        return ClockView("paused", int(working_seconds(cal, now, due)))
    if now >= clock.due_at:
        return ClockView("breached", -int(working_seconds(cal, clock.due_at, now)))
    return ClockView("running", int(working_seconds(cal, now, clock.due_at)))
