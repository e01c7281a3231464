"""The optimizer's inputs built from rows: who is free and from when, with how much capacity left today, and
what each open order needs and by when.

An engineer is available from `now` (or the end of the current job, below), moved past a current absence and
then to the next working instant of the engineer's calendar (repeated until both hold).

Daily capacity counts orders by the China date of their visit (planned arrival; the earliest start when
none is planned), cancelled ones not counted. `capacity_left` is what is left today; each later day within
HORIZON that is already at the maximum becomes a full-day busy interval (China midnight to midnight) among
the absences, so nobody is proposed for a visit on a full day.

The working calendar counts for the whole visit, not only for "now": the engineer's off-duty time within
HORIZON_DAYS (the gaps between the calendar's working intervals, `off_duty`) goes to the optimizer as
`EngineerInput.off_duty`, so an office-hours engineer is not proposed for Saturday 10:00 or 03:00; a trip that
would run into the evening sets off the next working morning instead when that still arrives by the due time.
Gaps shorter than LUNCH_GAP are not counted, so a trip may span lunch; a 24x7 engineer has none.

An engineer may hold several active orders. Each is busy time (`busy_interval`): an assigned or accepted order
from its planned departure (planned arrival - travel) to its planned end (arrival + estimated time on site); a
travelling or on-site order from now until its planned end, and at least until now + the time on site still
to go. Future bookings (assigned, accepted) go to the optimizer with the absences (`EngineerInput.absences`),
so a new order is proposed only for a window that overlaps none of them.

An engineer travelling to or on site at a job (`current_job`; the one ending last, should there be two) plans
from there: the position is that job's site (`EngineerInput.from_work_order_id` names it, and the proposal's
distance and travel are from it), and `available_from` starts at the end of its busy interval instead of
`now`, then moves past absences and to the next working instant as above; its busy interval is then not
among the absences. Remaining simplification: the trip is estimated from the position at planning time (the
home base, or the current job's site), never from the site of a future booking that ends before the trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huoban.dispatch import repository as repo
from huoban.dispatch.planning import EngineerInput, OrderInput
from huoban.models import Engineer, Organization, SlaClock, User, WorkOrder
from huoban.sla.calendar import CalendarError, WorkCalendar, working_intervals
from huoban.sla.store import work_calendar

CHINA = ZoneInfo("Asia/Shanghai")
LOOKAHEAD = timedelta(days=31)  # no working time within a month: not available this round
HORIZON_DAYS = 14  # full days (and off-duty time) are passed to the optimizer this far ahead
LUNCH_GAP = timedelta(hours=3)  # shorter breaks between working intervals do not stop a visit
OVERRUN = timedelta(minutes=30)  # an engineer on site past the estimate is taken to need this much longer


def china_day(now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the day in China that contains `now`."""
    day = now.astimezone(CHINA).date()
    start = datetime.combine(day, time(0), CHINA)
    return start, start + timedelta(days=1)


def china_date(now: datetime) -> date:
    return now.astimezone(CHINA).date()


def next_working_instant(cal: WorkCalendar, at: datetime) -> datetime | None:
    """The first working instant within LOOKAHEAD of `at`; None when there is none, or when `at` lies so far
    ahead (an absence ending in year 9999, say) that the arithmetic overflows."""
    try:
        for start, _ in working_intervals(cal, at, at + LOOKAHEAD):
            return start
    except (OverflowError, CalendarError):
        return None
    return None


def available_from(cal: WorkCalendar, now: datetime, absences: Sequence[tuple[datetime, datetime]]) -> datetime | None:
    """The first instant at or after `now` outside every absence and inside the calendar's working time; None
    (not available this round) when there is none within reach."""
    moment = now
    for _ in range(100):
        moved = False
        for start, end in absences:
            if start <= moment < end:
                moment, moved = end, True
        working = next_working_instant(cal, moment)
        if working is None:
            return None
        if working > moment:
            moment, moved = working, True
        if not moved:
            return moment if moment - now <= LOOKAHEAD else None
    return None


def off_duty(cal: WorkCalendar, now: datetime) -> list[tuple[datetime, datetime]]:
    """The calendar's non-working gaps of at least LUNCH_GAP from `now` to HORIZON_DAYS ahead."""
    end = now + timedelta(days=HORIZON_DAYS)
    gaps = []
    cursor = now
    for start, stop in working_intervals(cal, now, end):
        if start - cursor >= LUNCH_GAP:
            gaps.append((cursor, start))
        cursor = max(cursor, stop)
    if end - cursor >= LUNCH_GAP:
        gaps.append((cursor, end))
    return gaps


def orders_per_day(session: Session, engineer_ids: list[int], now: datetime) -> dict[int, dict[date, int]]:
    """engineer id -> China date of the visit -> orders on that date, from today to HORIZON_DAYS ahead
    (cancelled ones not counted)."""
    if not engineer_ids:
        return {}
    start, _ = china_day(now)
    end = start + timedelta(days=HORIZON_DAYS + 1)
    visit = func.coalesce(WorkOrder.planned_arrival_at, WorkOrder.earliest_start_at)
    out: dict[int, dict[date, int]] = {}
    for engineer_id, at in session.execute(
        select(WorkOrder.engineer_id, visit).where(
            WorkOrder.engineer_id.in_(engineer_ids), visit >= start, visit < end, WorkOrder.status != "cancelled")
    ):
        if engineer_id is not None and at is not None:
            day = china_date(at if at.tzinfo else at.replace(tzinfo=UTC))
            out.setdefault(engineer_id, {})[day] = out.get(engineer_id, {}).get(day, 0) + 1
    return out


def full_days(counts: dict[date, int], maximum: int, now: datetime) -> list[tuple[datetime, datetime]]:
    """[China midnight, next midnight) of each day after today, within the horizon, already at `maximum`."""
    today = china_date(now)
    out = []
    for day, count in sorted(counts.items()):
        if day > today and count >= maximum:
            start = datetime.combine(day, time(0), CHINA)
            out.append((start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)))
    return out


def busy_interval(order: WorkOrder, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) during which the engineer holding the active `order` is busy with it (module docstring)."""
    stay = timedelta(minutes=order.estimated_minutes)
    arrival = order.planned_arrival_at or order.earliest_start_at
    planned_end = arrival + stay
    if order.status == "travelling":
        return now, max(planned_end, max(arrival, now) + stay)
    if order.status == "on_site":
        still = (order.checked_in_at + stay) if order.checked_in_at is not None else planned_end
        return now, max(planned_end, still, now + OVERRUN)
    return arrival - timedelta(minutes=order.travel_minutes or 0), planned_end


def _busy(orders: list[WorkOrder], now: datetime, exclude_order: int | None) -> list[tuple[datetime, datetime, int]]:
    """(start, end, order id) of each of one engineer's active orders still ahead or under way."""
    out = []
    for order in orders:
        if order.id != exclude_order:
            start, end = busy_interval(order, now)
            if end > now:
                out.append((start, end, order.id))
    return out


def busy_intervals(session: Session, engineer_ids: list[int], now: datetime, exclude_order: int | None = None
                   ) -> dict[int, list[tuple[datetime, datetime, int]]]:
    """engineer id -> (start, end, order id) of each active order still ahead or under way."""
    active = repo.active_orders(session, engineer_ids)
    return {i: _busy(active.get(i, []), now, exclude_order) for i in engineer_ids}


def current_job(orders: list[WorkOrder], now: datetime) -> tuple[WorkOrder, datetime] | None:
    """The order the engineer is travelling to or on site at, with the end of its busy interval: where and
    from when the next trip starts (module docstring). The one ending last, should there be two."""
    under_way = [(busy_interval(o, now)[1], o) for o in orders if o.status in ("travelling", "on_site")]
    if not under_way:
        return None
    end, order = max(under_way, key=lambda pair: (pair[0], pair[1].id))
    return order, end


def engineer_inputs(
    session: Session, now: datetime, engineers: list[Engineer] | None = None, *, ignore_regions: bool = False,
    exclude_order: int | None = None,
) -> list[EngineerInput]:
    """Inputs for the given engineers (default: every active engineer of an active user); those with no
    working time within a month are left out. An engineer at a job plans from its site once it ends; absences
    include the busy time of the other active orders (not of `exclude_order`, the order being re-estimated)."""
    if engineers is None:
        engineers = list(session.scalars(
            select(Engineer).join(User, User.id == Engineer.user_id)
            .where(Engineer.is_active.is_(True), User.is_active.is_(True)).order_by(Engineer.id)))
    if not engineers:
        return []
    ids = [e.id for e in engineers]
    names = {uid: name for uid, name in session.execute(
        select(User.id, User.display_name).where(User.id.in_([e.user_id for e in engineers])))}
    orgs = {oid: name for oid, name in session.execute(
        select(Organization.id, Organization.name).where(Organization.id.in_({e.org_id for e in engineers})))}
    certs = repo.certifications(session, ids)
    away = repo.absences(session, ids, now)
    active = repo.active_orders(session, ids)
    per_day = orders_per_day(session, ids, now)
    today = china_date(now)
    gaps: dict[int, list[tuple[datetime, datetime]]] = {}
    out: list[EngineerInput] = []
    for e in engineers:
        leave = [(a.starts_at, a.ends_at) for a in away[e.id]]
        mine = [o for o in active.get(e.id, []) if o.id != exclude_order]
        job = current_job(mine, now)
        cal = work_calendar(session, e.calendar_id)
        start = available_from(cal, job[1] if job else now, leave)
        if start is None:
            continue
        if e.calendar_id not in gaps:
            gaps[e.calendar_id] = off_duty(cal, now)
        counts = per_day.get(e.id, {})
        booked = [(b, f) for b, f, oid in _busy(mine, now, None) if job is None or oid != job[0].id]
        blocked = sorted(leave + booked + full_days(counts, e.max_orders_per_day, now))
        lon, lat = (job[0].site_longitude, job[0].site_latitude) if job else (e.home_longitude, e.home_latitude)
        out.append(EngineerInput(
            id=e.id, name=names[e.user_id], org_id=e.org_id, org_name=orgs[e.org_id],
            longitude=lon, latitude=lat, skills=frozenset(e.skills or []),
            certifications={c.name: c.expires_on for c in certs[e.id]}, available_from=start,
            absences=tuple(blocked), off_duty=tuple(gaps[e.calendar_id]),
            regions_served=() if ignore_regions else tuple(e.regions_served or []),
            capacity_left=max(0, e.max_orders_per_day - counts.get(today, 0)),
            from_work_order_id=job[0].id if job else None,
        ))
    return out


def on_site_due(session: Session, ticket_ids: list[int]) -> dict[int, datetime]:
    """The due time of each ticket's current on-site clock that still runs."""
    if not ticket_ids:
        return {}
    latest: dict[int, SlaClock] = {}
    for clock in session.scalars(select(SlaClock).where(
            SlaClock.ticket_id.in_(ticket_ids), SlaClock.metric == "on_site").order_by(SlaClock.cycle)):
        latest[clock.ticket_id] = clock
    return {tid: c.due_at for tid, c in latest.items()
            if c.due_at is not None and c.met_at is None and c.stopped_at is None}


def order_inputs(session: Session, orders: list[WorkOrder]) -> list[OrderInput]:
    """Inputs for the orders; a ticket's order is due when its on-site clock is due now (a priority change or
    a pause may have moved it since the order was created)."""
    dues = on_site_due(session, [o.ticket_id for o in orders if o.ticket_id is not None])
    return [
        OrderInput(
            id=o.id, title=o.title, priority=o.priority, longitude=o.site_longitude, latitude=o.site_latitude,
            region_code=o.site_region_code, required_skills=frozenset(o.required_skills or []),
            required_certification=o.required_certification, earliest_start=o.earliest_start_at,
            due_at=dues.get(o.ticket_id, o.arrival_due_at) if o.ticket_id is not None else o.arrival_due_at,
            estimated_minutes=o.estimated_minutes,
        )
        for o in orders
    ]
