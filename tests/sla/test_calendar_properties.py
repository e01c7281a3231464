"""Properties of due times on random calendars, zones (with DST), starts, targets and pauses."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from huoban.sla.calendar import WorkCalendar, add_working_time, working_intervals, working_seconds

ZONES = ["Asia/Shanghai", "Europe/Berlin", "America/New_York", "UTC"]
FIRST_DAY = date(2026, 1, 1)
DAYS = 365
SECOND = timedelta(seconds=1)
# The 2026 DST changes: some starts cluster just before them.
DST_DAYS = {"Europe/Berlin": [date(2026, 3, 29), date(2026, 10, 25)],
            "America/New_York": [date(2026, 3, 8), date(2026, 11, 1)]}

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


HALF_HOURS = list(range(0, 1441, 30))
NEAR_DST = [0, 60, 90, 120, 150, 180, 210, 240, 540, 1020, 1440]
"""Boundaries crowded around 02:00-03:00 local, where Europe and the US skip or repeat an hour."""


@st.composite
def day_intervals(draw, grid: list[int] = HALF_HOURS, max_step: int = 12) -> tuple[tuple[int, int], ...]:
    """0-3 sorted, non-overlapping intervals with boundaries on `grid`."""
    points: list[int] = []
    index = draw(st.integers(0, len(grid) - 2))
    for _ in range(2 * draw(st.integers(0, 3))):
        if index >= len(grid):
            break
        points.append(grid[index])
        index += draw(st.integers(1, max_step))
    return tuple((points[i], points[i + 1]) for i in range(0, len(points) - 1, 2))


dates = st.integers(0, DAYS - 1).map(lambda n: FIRST_DAY + timedelta(days=n))


@st.composite
def calendars(draw, zones: list[str] = ZONES, grid: list[int] = HALF_HOURS, max_step: int = 12) -> WorkCalendar:
    week = [draw(day_intervals(grid, max_step)) for _ in range(7)]
    if not any(week):
        week[draw(st.integers(0, 6))] = ((540, 1020),)
    holidays = draw(st.frozensets(dates, max_size=12))
    overrides = draw(st.dictionaries(dates, day_intervals(grid, max_step), max_size=6))
    return WorkCalendar(timezone=draw(st.sampled_from(zones)), week=week, holidays=holidays, overrides=overrides)


@st.composite
def instants(draw, zone: str) -> datetime:
    """Any second of 2026, a second shortly before one of the zone's DST changes, or a half-hour (so that
    clocks end exactly on interval boundaries)."""
    kind = draw(st.sampled_from(["any", "dst", "grid"]))
    if kind == "dst" and zone in DST_DAYS:
        day = draw(st.sampled_from(DST_DAYS[zone])) - timedelta(days=draw(st.integers(0, 2)))
        base = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return base + timedelta(seconds=draw(st.integers(0, 86400 - 1)))
    step = 1800 if kind == "grid" else 1
    steps = draw(st.integers(0, (DAYS - 30) * 86400 // step))
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=step * steps)


targets = st.one_of(st.integers(0, 4 * 3600), st.integers(0, 200 * 3600), st.integers(0, 200).map(lambda n: 1800 * n))


@st.composite
def pause_lists(draw, start: datetime) -> list[tuple[datetime, datetime]]:
    pauses = []
    for _ in range(draw(st.integers(0, 4))):
        begin = start + timedelta(seconds=draw(st.integers(-86400, 10 * 86400)))
        pauses.append((begin, begin + timedelta(seconds=draw(st.integers(0, 3 * 86400)))))
    return pauses


def merged(pauses, low: datetime, high: datetime) -> list[tuple[datetime, datetime]]:
    spans = sorted((max(s, low), min(e, high)) for s, e in pauses if min(e, high) > max(s, low))
    out: list[tuple[datetime, datetime]] = []
    for s, e in spans:
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


@PROPERTY
@given(data=st.data(), cal=calendars(), target=targets)
def test_due_is_the_earliest_instant_with_the_target_worked(data, cal, target):
    start = data.draw(instants(cal.timezone))
    due = add_working_time(cal, start, target)
    assert due >= start
    assert working_seconds(cal, start, due) == target
    if target > 0:
        assert working_seconds(cal, start, due - SECOND) < target


@PROPERTY
@given(data=st.data(), cal=calendars(), target=targets)
def test_a_pause_never_makes_the_due_time_earlier(data, cal, target):
    start = data.draw(instants(cal.timezone))
    pauses = data.draw(pause_lists(start))
    without = add_working_time(cal, start, target)
    with_pauses = add_working_time(cal, start, target, pauses)
    assert with_pauses >= without
    assert add_working_time(cal, start, target, pauses[:1]) <= with_pauses  # fewer pauses: no later


@PROPERTY
@given(data=st.data(), bigger=calendars(), target=targets)
def test_more_working_time_never_makes_the_due_time_later(data, bigger, target):
    start = data.draw(instants(bigger.timezone))
    def fewer(intervals):
        return tuple(iv for iv in intervals if data.draw(st.booleans()))

    week = [fewer(day) for day in bigger.week]
    assume(any(week))
    smaller = WorkCalendar(
        timezone=bigger.timezone, week=week,
        holidays=bigger.holidays | data.draw(st.frozensets(dates, max_size=10)),
        overrides={day: fewer(intervals) for day, intervals in bigger.overrides.items()},
    )
    assert add_working_time(bigger, start, target) <= add_working_time(smaller, start, target)


@PROPERTY
@given(data=st.data(), cal=calendars(), target=targets)
def test_with_pauses_the_unpaused_working_time_equals_the_target(data, cal, target):
    start = data.draw(instants(cal.timezone))
    pauses = data.draw(pause_lists(start))
    due = add_working_time(cal, start, target, pauses)
    paused = sum(working_seconds(cal, s, e) for s, e in merged(pauses, start, due))
    assert working_seconds(cal, start, due) - paused == target
    assert working_seconds(cal, start, due, pauses) == target
    if target > 0:
        assert working_seconds(cal, start, due - SECOND, pauses) < target


def reference_working_seconds(cal: WorkCalendar, start: datetime, end: datetime) -> int:
    """Working seconds by walking local dates one by one, converting each boundary on its own."""
    zone = ZoneInfo(cal.timezone)

    def instant(day: date, minute: int) -> datetime:
        wall = datetime.combine(day, time()) + timedelta(minutes=minute)
        while wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
            wall += timedelta(minutes=1)  # inside a DST gap: the first local minute that exists
        return wall.replace(tzinfo=zone)  # fold=0: an ambiguous time's first occurrence

    total = 0
    day = start.astimezone(zone).date() - timedelta(days=1)
    while day <= end.astimezone(zone).date():
        for s, e in cal.intervals_on(day):
            low, high = max(instant(day, s), start), min(instant(day, e), end)
            if high > low:
                total += int(high.timestamp() - low.timestamp())
        day += timedelta(days=1)
    return total


@PROPERTY
@given(data=st.data(), cal=calendars(), length=st.integers(0, 12 * 86400))
def test_working_seconds_matches_a_day_by_day_reference(data, cal, length):
    start = data.draw(instants(cal.timezone))
    end = start + timedelta(seconds=length)
    assert working_seconds(cal, start, end) == reference_working_seconds(cal, start, end)
    assert sum((e - s).total_seconds() for s, e in working_intervals(cal, start, end)) == working_seconds(
        cal, start, end)


@PROPERTY
@given(data=st.data(), cal=calendars(list(DST_DAYS), NEAR_DST, 3), offset=st.integers(0, 86400),
       length=st.integers(86400, 3 * 86400))
def test_dst_days_match_the_day_by_day_reference_odoo_18166(data, cal, offset, length):
    day = data.draw(st.sampled_from(DST_DAYS[cal.timezone]))
    start = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(seconds=offset)
    end = start + timedelta(seconds=length)
    assert working_seconds(cal, start, end) == reference_working_seconds(cal, start, end)
    assert sum((e - s).total_seconds() for s, e in working_intervals(cal, start, end)) == working_seconds(
        cal, start, end)
