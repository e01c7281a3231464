"""Working-time calendars for SLA clocks: which instants count as working time, and when a clock is due.

A calendar is a time zone, a weekly template (several intervals per day allowed), holiday dates (closed
all day) and dated overrides (explicit intervals for one date, `[]` meaning closed). An override wins
over both the week and the holidays: that is how China's adjusted working weekends (调休) are written,
which none of the usual SLA engines can express (see ANCHORS.md, OpenGamma Strata PR #1958).

Conventions, the same everywhere:
- Interval times are local wall-clock times in the calendar's zone, in minutes after midnight
  (`"24:00"` = 1440 ends a day). They hold across daylight-saving changes: 09:00-17:00 stays
  09:00-17:00 local on the day the clocks move (Odoo #18166, OTRS bug 9884).
- A boundary that falls in a DST gap (a local time that does not exist) moves forward to the first
  instant after the gap; an ambiguous one (clocks set back) means its first occurrence.
- All instants are timezone-aware; a naive datetime raises `CalendarError`. Precision is one microsecond.
- Pauses are counted in working time: only the working time inside a pause is excluded, so a pause
  over a weekend changes nothing (ERPNext PR #49414 added wall-clock pause time instead).

Speed: each calendar keeps, once built, a sorted array of its working spans as UTC epoch microseconds
over a range of dates, with cumulative working time at each span. Working time between two instants is
then two bisections, and a due time three, however long the target; the range grows on demand.
"""

from __future__ import annotations

import json
import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 1440

Interval = tuple[int, int]
"""(start, end) in minutes after local midnight, 0 <= start < end <= 1440."""
Pause = tuple[datetime, datetime]

_US = 1_000_000
_ONE_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)|24:00")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_FIRST_WINDOW = 62  # days built for a calendar's first question; the index then at least doubles as it grows
_FAR = 732  # days: an instant this far outside the index starts a fresh one instead of growing it


class CalendarError(ValueError):
    """A calendar, instant or duration that cannot be used; the message is one line naming the place."""


# --- the calendar ----------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=True)
class WorkCalendar:
    """A working-time calendar; immutable, validated on construction, JSON via `from_dict`/`to_dict`.

    `week` has seven tuples of intervals, Monday first. `holidays` are closed all day unless overridden;
    `overrides` give a date's intervals outright (`()` = closed).
    """

    timezone: str
    week: tuple[tuple[Interval, ...], ...]
    holidays: frozenset[date] = frozenset()
    overrides: Mapping[date, tuple[Interval, ...]] = field(default_factory=dict)
    zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _index: _Index | None = field(default=None, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "zone", _zone(self.timezone))
        if isinstance(self.week, Mapping) or len(self.week) != 7:
            raise CalendarError("week: expected 7 days of intervals, Monday first")
        set_(self, "week", tuple(_checked(f"week.{WEEKDAYS[n]}", day) for n, day in enumerate(self.week)))
        holidays = frozenset(self.holidays)
        for day in holidays:
            if not isinstance(day, date) or isinstance(day, datetime):
                raise CalendarError(f"holidays: {day!r} is not a date")
        set_(self, "holidays", holidays)
        overrides: dict[date, tuple[Interval, ...]] = {}
        for day, intervals in sorted(self.overrides.items()):
            if not isinstance(day, date) or isinstance(day, datetime):
                raise CalendarError(f"overrides: {day!r} is not a date")
            overrides[day] = _checked(f"overrides.{day.isoformat()}", intervals)
        set_(self, "overrides", MappingProxyType(overrides))
        if not any(self.week) and not any(overrides.values()):
            raise CalendarError("calendar: no working time at all (every weekday and every override is closed)")

    def __hash__(self) -> int:
        return hash((self.timezone, self.week, self.holidays, tuple(self.overrides.items())))

    def __reduce__(self) -> tuple[Any, ...]:  # pickle and copy without the index and its lock
        return (type(self), (self.timezone, self.week, self.holidays, dict(self.overrides)))

    def intervals_on(self, day: date) -> tuple[Interval, ...]:
        """The local working intervals of one date: its override, else nothing on a holiday, else the week."""
        found = self.overrides.get(day)
        if found is not None:
            return found
        if day in self.holidays:
            return ()
        return self.week[day.weekday()]

    @property
    def week_minutes(self) -> int:
        """Working minutes in a plain week (no holidays, overrides or DST change)."""
        return sum(end - start for day in self.week for start, end in day)

    # --- JSON form ---

    @classmethod
    def from_dict(cls, data: Any) -> WorkCalendar:
        """Parse the JSON form {"timezone", "week": {"mon": [["09:00","12:00"], ...], ...}, "holidays", "overrides"}."""
        if not isinstance(data, Mapping):
            raise CalendarError("calendar: expected a JSON object")
        unknown = sorted(set(data) - {"timezone", "week", "holidays", "overrides"})
        if unknown:
            raise CalendarError(f"calendar: unknown key {unknown[0]!r}")
        for key in ("timezone", "week"):
            if key not in data:
                raise CalendarError(f"{key}: missing")
        timezone = data["timezone"]
        if not isinstance(timezone, str):
            raise CalendarError("timezone: expected a zone name such as 'Asia/Shanghai'")
        week_data = data["week"]
        if not isinstance(week_data, Mapping):
            raise CalendarError('week: expected an object {"mon": [...], ..., "sun": [...]}')
        for key in week_data:
            if key not in WEEKDAYS:
                raise CalendarError(f"week: unknown day {key!r} (expected mon, tue, wed, thu, fri, sat, sun)")
        for key in WEEKDAYS:
            if key not in week_data:
                raise CalendarError(f"week: missing day {key!r}")
        week = tuple(_parse_intervals(f"week.{key}", week_data[key]) for key in WEEKDAYS)
        holidays_data = data.get("holidays", [])
        if not isinstance(holidays_data, list):
            raise CalendarError('holidays: expected a list of dates ["YYYY-MM-DD", ...]')
        holidays = frozenset(_parse_date(f"holidays[{n}]", value) for n, value in enumerate(holidays_data))
        overrides_data = data.get("overrides", {})
        if not isinstance(overrides_data, Mapping):
            raise CalendarError('overrides: expected an object {"YYYY-MM-DD": [["HH:MM", "HH:MM"], ...]}')
        overrides = {
            _parse_date(f"overrides.{key}", key, quote=False): _parse_intervals(f"overrides.{key}", value)
            for key, value in overrides_data.items()
        }
        return cls(timezone=timezone, week=week, holidays=holidays, overrides=overrides)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, dates sorted; `from_dict(cal.to_dict()) == cal`."""
        return {
            "timezone": self.timezone,
            "week": {key: _dump_intervals(self.week[n]) for n, key in enumerate(WEEKDAYS)},
            "holidays": [day.isoformat() for day in sorted(self.holidays)],
            "overrides": {day.isoformat(): _dump_intervals(ivs) for day, ivs in sorted(self.overrides.items())},
        }

    @classmethod
    def from_json(cls, text: str) -> WorkCalendar:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CalendarError(f"not valid JSON: {exc}") from None
        return cls.from_dict(data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    # --- the span index (internal) ---

    def _covering(self, low: int, high: int) -> _Index:
        """An index whose dates cover the instants [low, high] (epoch microseconds)."""
        index = self._index
        if index is not None and index.low <= low and high <= index.high:
            return index
        with self._lock:
            index = self._index
            if index is not None and index.low <= low and high <= index.high:
                return index
            first = _local_ordinal(self.zone, low) - 1
            last = _local_ordinal(self.zone, high) + 1
            if index is None or first > index.last_day + _FAR or last < index.first_day - _FAR:
                span = (first - 7, last + _FIRST_WINDOW)  # a fresh window
            else:
                growth = max(_FIRST_WINDOW, index.last_day - index.first_day)
                span = (min(index.first_day, first - growth if first < index.first_day else first),
                        max(index.last_day, last + growth if last > index.last_day else last))
            index = _build(self, *span)
            object.__setattr__(self, "_index", index)
            return index

    def _extended(self, index: _Index, need: int) -> _Index:
        """`index` grown forward (same start, so the same cumulative origin) by at least `need` µs of work."""
        with self._lock:
            current = self._index
            if current is not None and current.first_day == index.first_day and current.total >= index.total + need:
                return current
            last = index.last_day
            while True:
                if self.week_minutes:
                    days = 7 * (need // (self.week_minutes * 60 * _US) + 2)
                else:
                    latest = max((d.toordinal() for d, ivs in self.overrides.items() if ivs), default=0)
                    if latest <= last:
                        raise CalendarError("not enough working time: the calendar has none after "
                                            f"{date.fromordinal(last).isoformat()}")
                    days = latest - last
                last += max(days, last - index.first_day)
                grown = _build(self, index.first_day, last)
                if grown.total >= index.total + need:
                    object.__setattr__(self, "_index", grown)
                    return grown


class _Index(NamedTuple):
    """Merged working spans over local dates [first_day, last_day] (ordinals), as epoch microseconds.

    `low`/`high` are the first date's local midnight and the instant after the last date; `cum_end[i]`
    is the working time from `low` to `ends[i]`, `cum_start[i]` the same to `starts[i]`.
    """

    first_day: int
    last_day: int
    low: int
    high: int
    starts: list[int]
    ends: list[int]
    cum_start: list[int]
    cum_end: list[int]
    total: int


def _build(cal: WorkCalendar, first_day: int, last_day: int) -> _Index:
    if first_day < 2 or last_day > date.max.toordinal() - 2:
        raise CalendarError("instant outside the supported dates (years 1 to 9999)")
    zone = cal.zone
    starts: list[int] = []
    ends: list[int] = []
    midnight = _wall_to_epoch(zone, date.fromordinal(first_day), 0)
    low = midnight
    for ordinal in range(first_day, last_day + 1):
        day = date.fromordinal(ordinal)
        next_midnight = _wall_to_epoch(zone, day, DAY_MINUTES)
        intervals = cal.intervals_on(day)
        if next_midnight - midnight == 86400:  # no clock change that day
            spans = [(midnight + 60 * s, midnight + 60 * e) for s, e in intervals]
        else:
            spans = [(_wall_to_epoch(zone, day, s), _wall_to_epoch(zone, day, e)) for s, e in intervals]
        for s, e in spans:
            if e <= s:
                continue  # wholly inside a DST gap
            if ends and s <= ends[-1]:
                ends[-1] = max(ends[-1], e)  # touching: 24:00 today and 00:00 tomorrow, or 12:00 and 12:00
            else:
                starts.append(s)
                ends.append(e)
        midnight = next_midnight
    starts = [s * _US for s in starts]
    ends = [e * _US for e in ends]
    cum_start: list[int] = []
    cum_end: list[int] = []
    total = 0
    for s, e in zip(starts, ends, strict=True):
        cum_start.append(total)
        total += e - s
        cum_end.append(total)
    return _Index(first_day, last_day, low * _US, midnight * _US, starts, ends, cum_start, cum_end, total)


def _wall_to_epoch(zone: ZoneInfo, day: date, minute: int) -> int:
    """Epoch seconds of a local wall time; in a DST gap the end of the gap, when ambiguous the first one."""
    if minute >= DAY_MINUTES:
        day, minute = day + timedelta(days=1), minute - DAY_MINUTES
    wall = datetime(day.year, day.month, day.day, minute // 60, minute % 60)
    earlier = int(wall.replace(tzinfo=zone).timestamp())  # fold=0: the offset before a change
    later = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    if earlier <= later:  # an ordinary time, or an ambiguous one whose first occurrence is `earlier`
        return earlier
    lo, hi = later, earlier  # a gap: local(lo) is before `wall`, local(hi) after; find the transition
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return hi


def _local_ordinal(zone: ZoneInfo, moment: int) -> int:
    seconds = max(-62135596800 + 86400 * 3, min(moment // _US, 253402300799 - 86400 * 3))
    return datetime.fromtimestamp(seconds, zone).toordinal()


def _worked(index: _Index, moment: int) -> int:
    """Working µs from index.low to `moment` (which the index covers)."""
    i = bisect_right(index.ends, moment)
    if i == len(index.ends):
        return index.total
    start = index.starts[i]
    return index.cum_start[i] + (moment - start if moment > start else 0)


def _reached(index: _Index, goal: int) -> int:
    """The earliest instant at which `goal` (0 < goal <= index.total) µs of work since index.low have elapsed."""
    j = bisect_left(index.cum_end, goal)
    return index.starts[j] + goal - index.cum_start[j]


# --- the computations ------------------------------------------------------------------------------------


def working_intervals(cal: WorkCalendar, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The working spans within [start, end), clipped to it, as UTC datetimes in time order."""
    low, high = _instant(start, "start"), _instant(end, "end")
    if high <= low:
        return
    index = cal._covering(low, high)
    for i in range(bisect_right(index.ends, low), len(index.ends)):
        s, e = index.starts[i], index.ends[i]
        if s >= high:
            break
        yield _utc(max(s, low)), _utc(min(e, high))


def working_seconds(cal: WorkCalendar, start: datetime, end: datetime, pauses: Iterable[Pause] = ()) -> float:
    """Working seconds from `start` to `end` not inside a pause; negative when `end` is before `start`."""
    low, high = _instant(start, "start"), _instant(end, "end")
    sign = 1
    if high < low:
        low, high, sign = high, low, -1
    index = cal._covering(low, high)
    total = _worked(index, high) - _worked(index, low)
    for p_start, p_end in _merged_pauses(pauses, low):
        if p_start >= high:
            break
        total -= _worked(index, min(p_end, high)) - _worked(index, p_start)
    return sign * total / _US


def add_working_time(
    cal: WorkCalendar, start: datetime, seconds: float | timedelta, pauses: Iterable[Pause] = (),
) -> datetime:
    """The due instant: the earliest at which `seconds` of working time outside the pauses have elapsed since
    `start`, in the calendar's zone.

    So a 4-hour clock started at 14:00 on a 09:00-18:00 day is due at 18:00 that day, not 09:00 the next
    one; a clock started outside working time starts counting at the next working instant; 0 seconds
    returns `start` unchanged. Pauses may overlap each other and lie partly outside working time.
    """
    if start.tzinfo is None:
        raise CalendarError(f"start: {start.isoformat()} has no UTC offset")
    moment = (start - _EPOCH) // _ONE_US if start.microsecond else int(start.timestamp()) * _US
    if type(seconds) is int and seconds > 0:
        need = seconds * _US
    else:
        need = _duration(seconds)
        if not need:
            return start
    if pauses:
        for p_start, p_end in _merged_pauses(pauses, moment):
            index = cal._covering(moment, p_start)
            available = _worked(index, p_start) - _worked(index, moment)
            if need <= available:
                return _local(_reached(index, _worked(index, moment) + need), cal.zone)
            need -= available
            moment = p_end
    cached = cal._index
    index = cached if cached is not None and cached.low <= moment <= cached.high else cal._covering(moment, moment)
    while True:
        # _worked(index, moment), inlined: this is the hot path
        ends = index.ends
        i = bisect_right(ends, moment)
        if i == len(ends):
            goal = index.total + need
        else:
            goal = index.cum_start[i] + need
            if moment > index.starts[i]:
                goal += moment - index.starts[i]
        if goal <= index.total:
            break
        index = cal._extended(index, goal - index.total)
    j = bisect_left(index.cum_end, goal)
    due = index.starts[j] + goal - index.cum_start[j]
    if due % _US:
        return datetime.fromtimestamp(due // _US, cal.zone).replace(microsecond=due % _US)
    return datetime.fromtimestamp(due // _US, cal.zone)


# --- helpers ---------------------------------------------------------------------------------------------


def _instant(moment: datetime, what: str) -> int:
    if not isinstance(moment, datetime):
        raise CalendarError(f"{what}: expected a datetime, got {moment!r}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CalendarError(f"{what}: {moment.isoformat()} has no UTC offset")
    return (moment - _EPOCH) // _ONE_US


def _duration(seconds: float | timedelta) -> int:
    if isinstance(seconds, timedelta):
        need = seconds // _ONE_US
    elif isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds == seconds:
        need = round(seconds * _US)
    else:
        raise CalendarError(f"seconds: expected a number, got {seconds!r}")
    if need < 0:
        raise CalendarError(f"seconds: {seconds} is negative")
    return need


def _merged_pauses(pauses: Iterable[Pause], after: int) -> list[tuple[int, int]]:
    """Pauses as sorted, disjoint epoch-µs spans, clipped to start at `after` or later."""
    spans = []
    for n, pause in enumerate(pauses):
        try:
            p_start, p_end = pause
        except (TypeError, ValueError):
            raise CalendarError(f"pauses[{n}]: expected a (start, end) pair") from None
        low, high = _instant(p_start, f"pauses[{n}] start"), _instant(p_end, f"pauses[{n}] end")
        if high < low:
            raise CalendarError(f"pauses[{n}]: end {p_end.isoformat()} is before start {p_start.isoformat()}")
        low = max(low, after)
        if high > low:
            spans.append((low, high))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for low, high in spans:
        if merged and low <= merged[-1][1]:
            if high > merged[-1][1]:
                merged[-1] = (merged[-1][0], high)
        else:
            merged.append((low, high))
    return merged


def _utc(moment: int) -> datetime:
    return _EPOCH + timedelta(microseconds=moment)


def _local(moment: int, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(moment // _US, zone).replace(microsecond=moment % _US)


def _zone(name: object) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise CalendarError("timezone: expected a zone name such as 'Asia/Shanghai'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CalendarError(f"timezone: unknown zone {name!r}") from None


def _checked(place: str, intervals: Sequence[Sequence[int]]) -> tuple[Interval, ...]:
    """Intervals as a tuple of (start, end) minute pairs, each valid and after the one before it."""
    result: list[Interval] = []
    for n, interval in enumerate(intervals):
        if len(interval) != 2 or not all(type(x) is int for x in interval):
            raise CalendarError(f"{place}[{n}]: expected a (start, end) pair of minutes after midnight")
        start, end = interval
        if not 0 <= start < DAY_MINUTES or not 0 < end <= DAY_MINUTES:
            raise CalendarError(f"{place}[{n}]: time outside 00:00-24:00")
        if end <= start:
            raise CalendarError(f"{place}[{n}]: end {_hhmm(end)} is not after start {_hhmm(start)}")
        if result and start < result[-1][1]:
            prev_start, prev_end = result[-1]
            if end <= prev_start:
                raise CalendarError(f"{place}[{n}]: intervals out of order ({_hhmm(start)}-{_hhmm(end)} "
                                    f"comes before {_hhmm(prev_start)}-{_hhmm(prev_end)})")
            raise CalendarError(f"{place}[{n}]: intervals overlap ({_hhmm(start)}-{_hhmm(end)} "
                                f"starts before {_hhmm(prev_end)})")
        result.append((start, end))
    return tuple(result)


def _parse_intervals(place: str, data: Any) -> tuple[Interval, ...]:
    if not isinstance(data, list):
        raise CalendarError(f'{place}: expected a list of ["HH:MM", "HH:MM"] intervals')
    pairs = []
    for n, item in enumerate(data):
        if not isinstance(item, list) or len(item) != 2:
            raise CalendarError(f'{place}[{n}]: expected ["HH:MM", "HH:MM"]')
        pairs.append((_parse_time(f"{place}[{n}]", item[0], end=False),
                      _parse_time(f"{place}[{n}]", item[1], end=True)))
    return _checked(place, pairs)


def _parse_time(place: str, value: Any, *, end: bool) -> int:
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise CalendarError(f"{place}: bad time {value!r} (expected HH:MM, 00:00 to 24:00)")
    if value == "24:00" and not end:
        raise CalendarError(f"{place}: 24:00 can only end an interval")
    return int(value[:2]) * 60 + int(value[3:])


def _parse_date(place: str, value: Any, *, quote: bool = True) -> date:
    shown = f" {value!r}" if quote else ""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise CalendarError(f"{place}: not a date{shown} (expected YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CalendarError(f"{place}: not a date{shown}") from None


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _dump_intervals(intervals: tuple[Interval, ...]) -> list[list[str]]:
    return [[_hhmm(start), _hhmm(end)] for start, end in intervals]
