"""Working-time calendars on real dates: China's 2026 arrangement, lunch breaks, pauses, DST, JSON, errors."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from huoban.sla.builtin import BUILTIN_NAMES, cn_known_years, get_builtin
from huoban.sla.calendar import CalendarError, WorkCalendar, add_working_time, working_intervals, working_seconds
from huoban.sla.cli import due_command

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = 3600

SAMPLE = {
    "timezone": "Asia/Shanghai",
    "week": {
        "mon": [["09:00", "12:00"], ["13:00", "18:00"]],
        "tue": [["09:00", "12:00"], ["13:00", "18:00"]],
        "wed": [["09:00", "12:00"], ["13:00", "18:00"]],
        "thu": [["09:00", "12:00"], ["13:00", "18:00"]],
        "fri": [["09:00", "12:00"], ["13:00", "18:00"]],
        "sat": [],
        "sun": [],
    },
    "holidays": ["2026-10-01"],
    "overrides": {"2026-10-10": [["09:00", "12:00"], ["13:00", "18:00"]]},
}


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def due(start: datetime, hours: float, calendar: str | WorkCalendar = "cn-standard", pauses=()) -> datetime:
    cal = get_builtin(calendar) if isinstance(calendar, str) else calendar
    return add_working_time(cal, start, hours * HOUR, pauses)


def local_day(cal: WorkCalendar, year: int, month: int, day: int) -> list[tuple[datetime, datetime]]:
    """The working spans (UTC) of one local date."""
    first = datetime(year, month, day, tzinfo=cal.zone)
    return list(working_intervals(cal, first, datetime.combine(first.date() + timedelta(days=1), first.timetz())))


def every_day(timezone: str, *intervals: tuple[str, str], **changes) -> WorkCalendar:
    day = [list(interval) for interval in intervals]
    data = {"timezone": timezone, "week": {key: day for key in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}
    return WorkCalendar.from_dict({**data, **changes})


# --- cn-standard on real 2026 dates ---------------------------------------------------------------------------


def test_installed_chinesecalendar_knows_2026():
    assert 2026 in cn_known_years()
    cal = get_builtin("cn-standard")
    assert {date(2026, 10, d) for d in range(1, 8)} <= cal.holidays  # National Day, Thu 1 to Wed 7 October
    assert date(2026, 9, 25) in cal.holidays  # Mid-Autumn Festival, a Friday
    assert set(cal.overrides) >= {date(2026, 9, 20), date(2026, 10, 10)}  # 调休: Sunday 20 Sep, Saturday 10 Oct
    assert cal.intervals_on(date(2026, 10, 10)) == ((540, 720), (780, 1080))
    assert cal.intervals_on(date(2026, 10, 8)) == ((540, 720), (780, 1080))
    assert cal.intervals_on(date(2026, 10, 11)) == ()
    assert BUILTIN_NAMES == ("24x7", "cn-standard")


def test_p1_raised_thursday_afternoon_lands_monday_morning_over_mid_autumn():
    # 16:00-18:00 Thursday 24 Sep is 2 h; Friday 25 (Mid-Autumn) and the weekend are closed; 09:00-11:00 Monday.
    assert due(cst(2026, 9, 24, 16), 4) == cst(2026, 9, 28, 11)


def test_p1_raised_on_the_mid_autumn_friday_starts_counting_monday():
    # Friday 25 Sep 2026 is a holiday, so the whole 4 h fall on Monday: 09:00-12:00, then 13:00-14:00.
    assert due(cst(2026, 9, 25, 16), 4) == cst(2026, 9, 28, 14)


def test_clock_ends_exactly_at_close_not_next_morning():
    assert due(cst(2026, 9, 29, 14), 4) == cst(2026, 9, 29, 18)
    assert due(cst(2026, 9, 29, 9), 3) == cst(2026, 9, 29, 12)  # before lunch, not 13:00


def test_start_on_a_sunday_counts_from_monday_0900_frappe_2075():
    assert due(cst(2026, 9, 13, 10), 1) == cst(2026, 9, 14, 10)


def test_adjusted_working_sunday_is_open():
    assert due(cst(2026, 9, 20, 10), 1) == cst(2026, 9, 20, 11)


def test_start_inside_lunch_counts_from_1300():
    assert due(cst(2026, 9, 16, 12, 30), 0.5) == cst(2026, 9, 16, 13, 30)


def test_national_day_skips_to_the_adjusted_working_saturday():
    start = cst(2026, 9, 30, 16)
    assert due(start, 4) == cst(2026, 10, 8, 11)  # 2 h on 30 Sep, 1-7 Oct closed, Thursday 8 Oct
    morning = cst(2026, 9, 30, 9)
    assert due(morning, 24) == cst(2026, 10, 9, 18)  # 30 Sep, 8 Oct, 9 Oct
    assert due(morning, 25) == cst(2026, 10, 10, 10)  # Saturday 10 Oct is a working day
    assert due(morning, 33) == cst(2026, 10, 12, 10)  # Sunday 11 Oct is not
    assert due_command("cn-standard", None, "2026-09-30T17:00:00+08:00", 120, []) == "2026-10-08T10:00:00+08:00"


def test_override_wins_over_holiday_and_week():
    data = copy.deepcopy(SAMPLE)
    data["holidays"] = ["2026-10-01", "2026-10-02"]
    data["overrides"] = {"2026-10-01": [["10:00", "11:00"]], "2026-10-05": []}
    cal = WorkCalendar.from_dict(data)
    assert working_seconds(cal, cst(2026, 10, 1), cst(2026, 10, 2)) == HOUR
    assert working_seconds(cal, cst(2026, 10, 2), cst(2026, 10, 3)) == 0  # holiday
    assert working_seconds(cal, cst(2026, 10, 5), cst(2026, 10, 6)) == 0  # a Monday closed by override
    assert due(cst(2026, 9, 30, 17), 2, cal) == cst(2026, 10, 1, 11)
    assert due(cst(2026, 9, 30, 17), 3, cal) == cst(2026, 10, 6, 10)


def test_several_intervals_per_day():
    cal = every_day("Asia/Shanghai", ("08:00", "10:00"), ("11:00", "12:00"), ("14:00", "16:00"))
    assert due(cst(2026, 9, 14, 8), 4, cal) == cst(2026, 9, 14, 15)
    assert due(cst(2026, 9, 14, 10, 30), 1.5, cal) == cst(2026, 9, 14, 14, 30)
    assert due(cst(2026, 9, 14, 15), 2, cal) == cst(2026, 9, 15, 9)
    spans = list(working_intervals(cal, cst(2026, 9, 14, 9), cst(2026, 9, 14, 15)))
    assert [(s.astimezone(SHANGHAI).hour, e.astimezone(SHANGHAI).hour) for s, e in spans] == [(9, 10), (11, 12),
                                                                                              (14, 15)]
    assert all(s.tzinfo is UTC for s, _ in spans)


def test_24x7_is_wall_clock_time():
    assert due(cst(2026, 10, 1, 23), 30, "24x7") == cst(2026, 10, 3, 5)
    assert working_seconds(get_builtin("24x7"), cst(2026, 1, 1), cst(2027, 1, 1)) == 365 * 24 * HOUR


def test_zero_target_returns_start_and_result_is_in_calendar_zone():
    start = datetime(2026, 9, 13, 2, tzinfo=UTC)  # a Sunday: not working time, still due at once
    assert due(start, 0) is start
    result = due(datetime(2026, 9, 14, 1, tzinfo=UTC), 1)
    assert result.tzinfo is SHANGHAI and result == cst(2026, 9, 14, 10)


def test_microsecond_start_and_fractional_target():
    start = cst(2026, 9, 14, 11, 59, 59, 250_000)
    assert add_working_time(get_builtin("cn-standard"), start, 1.5) == cst(2026, 9, 14, 13, 0, 0, 750_000)
    assert add_working_time(get_builtin("cn-standard"), start, timedelta(seconds=1)) == cst(2026, 9, 14, 13, 0, 0,
                                                                                            250_000)


def test_long_targets_and_far_apart_dates():
    cal = get_builtin("cn-standard")
    # 2026 has 248 working days: 261 weekdays - 19 weekday holidays + 6 adjusted working weekend days
    assert working_seconds(cal, cst(2026, 1, 1), cst(2027, 1, 1)) == 248 * 8 * HOUR
    assert due(cst(2026, 1, 1), 248 * 8) == cst(2026, 12, 31, 18)
    for start in (cst(2031, 5, 5, 9), cst(2019, 5, 6, 9), cst(2031, 5, 5, 9)):  # the index moves and comes back
        assert due(start, 8) == start.replace(hour=18)


def test_working_seconds_is_signed_and_intervals_are_clipped():
    cal = get_builtin("cn-standard")
    assert working_seconds(cal, cst(2026, 9, 14, 17), cst(2026, 9, 14, 10)) == -6 * HOUR
    spans = list(working_intervals(cal, cst(2026, 9, 14, 10), cst(2026, 9, 14, 14)))
    assert spans == [(cst(2026, 9, 14, 10), cst(2026, 9, 14, 12)), (cst(2026, 9, 14, 13), cst(2026, 9, 14, 14))]
    assert list(working_intervals(cal, cst(2026, 9, 14, 14), cst(2026, 9, 14, 10))) == []


def test_calendar_with_only_overrides_runs_out_of_working_time():
    data = copy.deepcopy(SAMPLE)
    data["week"] = {key: [] for key in data["week"]}
    cal = WorkCalendar.from_dict(data)
    assert due(cst(2026, 10, 1), 8, cal) == cst(2026, 10, 10, 18)
    with pytest.raises(CalendarError, match="not enough working time"):
        due(cst(2026, 10, 1), 9, cal)


# --- pauses ---------------------------------------------------------------------------------------------------


def test_pause_inside_working_time_moves_the_due_time():
    pause = (cst(2026, 9, 14, 9, 30), cst(2026, 9, 14, 10))
    assert due(cst(2026, 9, 14, 9), 2, pauses=[pause]) == cst(2026, 9, 14, 11, 30)


def test_pause_over_a_weekend_changes_nothing_erpnext_49414():
    # ERPNext added wall-clock pause time to the deadline; only working time inside a pause counts.
    weekend = (cst(2026, 9, 18, 18), cst(2026, 9, 21, 9))
    assert due(cst(2026, 9, 18, 16), 4, pauses=[weekend]) == cst(2026, 9, 21, 11)


def test_pause_across_lunch_counts_only_working_time():
    pause = (cst(2026, 9, 14, 11, 30), cst(2026, 9, 14, 13, 30))  # 1 h of working time
    assert due(cst(2026, 9, 14, 9), 4, pauses=[pause]) == cst(2026, 9, 14, 15)


def test_overlapping_pauses_and_pauses_before_start_or_after_due():
    pauses = [
        (cst(2026, 9, 14, 9, 45), cst(2026, 9, 14, 10, 15)),
        (cst(2026, 9, 14, 9, 30), cst(2026, 9, 14, 10)),  # overlaps the first: 45 min together
        (cst(2026, 9, 11, 9), cst(2026, 9, 14, 9, 0)),  # ends as the clock starts
        (cst(2026, 9, 15, 9), cst(2026, 9, 16, 9)),  # after the due time
    ]
    assert due(cst(2026, 9, 14, 9), 2, pauses=pauses) == cst(2026, 9, 14, 11, 45)
    assert working_seconds(get_builtin("cn-standard"), cst(2026, 9, 14, 9), cst(2026, 9, 14, 11, 45),
                           pauses) == 2 * HOUR


def test_hold_on_a_ticket_raised_on_a_non_working_day_frappe_2449():
    sunday = cst(2026, 9, 13, 10)
    on_sunday = (cst(2026, 9, 13, 11), cst(2026, 9, 13, 20))
    monday_hour = (cst(2026, 9, 14, 9), cst(2026, 9, 14, 10))
    assert due(sunday, 2, pauses=[on_sunday]) == cst(2026, 9, 14, 11)
    assert due(sunday, 2, pauses=[monday_hour]) == cst(2026, 9, 14, 12)
    assert due(sunday, 3, pauses=[monday_hour]) == cst(2026, 9, 14, 14)  # lunch in between


def test_clock_ending_exactly_when_a_pause_starts_is_due_then():
    pause = (cst(2026, 9, 14, 20), cst(2026, 9, 15, 10))
    assert due(cst(2026, 9, 14, 14), 4, pauses=[pause]) == cst(2026, 9, 14, 18)
    assert due(cst(2026, 9, 14, 14), 4.5, pauses=[pause]) == cst(2026, 9, 15, 10, 30)


# --- daylight saving (Odoo #18166, #26256, OTRS bug 9884) --------------------------------------------------------


def test_berlin_spring_forward_day_keeps_local_hours_odoo_18166():
    cal = every_day("Europe/Berlin", ("09:00", "17:00"))
    utc = [(s.hour, e.hour) for s, e in local_day(cal, 2026, 3, 28) + local_day(cal, 2026, 3, 29)]
    assert utc == [(8, 16), (7, 15)]  # 09:00-17:00 CET, then 09:00-17:00 CEST
    assert working_seconds(cal, datetime(2026, 3, 29, tzinfo=BERLIN), datetime(2026, 3, 30, tzinfo=BERLIN)) == 8 * HOUR
    assert add_working_time(cal, datetime(2026, 3, 28, 16, tzinfo=BERLIN), 2 * HOUR) == datetime(2026, 3, 29, 10,
                                                                                                  tzinfo=BERLIN)


def test_berlin_fall_back_day_has_eight_working_hours_otrs_9884():
    cal = every_day("Europe/Berlin", ("09:00", "17:00"))
    start, end = datetime(2026, 10, 25, tzinfo=BERLIN), datetime(2026, 10, 26, tzinfo=BERLIN)
    assert end.timestamp() - start.timestamp() == 25 * HOUR  # (end - start is wall-clock in Python: 24 h)
    assert working_seconds(cal, start, end) == 8 * HOUR
    assert add_working_time(cal, datetime(2026, 10, 24, 16, tzinfo=BERLIN), 8 * HOUR) == datetime(
        2026, 10, 25, 16, tzinfo=BERLIN)


def test_new_york_dst_days():
    cal = every_day("America/New_York", ("09:00", "17:00"))
    spans = local_day(cal, 2026, 3, 8) + local_day(cal, 2026, 11, 1)
    assert [(s.hour, e.hour) for s, e in spans] == [(13, 21), (14, 22)]
    assert add_working_time(cal, datetime(2026, 3, 7, 13, tzinfo=NEW_YORK), 8 * HOUR).isoformat() == (
        "2026-03-08T13:00:00-04:00")


def test_boundary_in_a_dst_gap_moves_to_the_end_of_the_gap():
    # Berlin skips 02:00-03:00 on 29 March 2026: an office opening at 02:30 opens at 03:00 CEST.
    cal = every_day("Europe/Berlin", ("02:30", "04:00"))
    spans = local_day(cal, 2026, 3, 29)
    assert spans == [(datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 3, 29, 2, tzinfo=UTC))]
    inside = every_day("Europe/Berlin", ("02:10", "02:50"), ("09:00", "10:00"))  # wholly in the gap: no time
    assert working_seconds(inside, datetime(2026, 3, 29, tzinfo=BERLIN), datetime(2026, 3, 30, tzinfo=BERLIN)) == HOUR


def test_ambiguous_boundary_means_its_first_occurrence():
    # Berlin repeats 02:00-03:00 on 25 October 2026: 02:30 is 00:30 UTC (CEST), 03:30 is 02:30 UTC (CET).
    cal = every_day("Europe/Berlin", ("02:30", "03:30"))
    spans = local_day(cal, 2026, 10, 25)
    assert spans == [(datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 2, 30, tzinfo=UTC))]


def test_overnight_shift_across_midnight_is_one_span():
    cal = every_day("Asia/Shanghai", ("00:00", "06:00"), ("22:00", "24:00"))
    assert due(cst(2026, 9, 14, 23), 3, cal) == cst(2026, 9, 15, 2)
    spans = list(working_intervals(cal, cst(2026, 9, 14, 12), cst(2026, 9, 15, 12)))
    assert spans == [(cst(2026, 9, 14, 22), cst(2026, 9, 15, 6))]


# --- JSON form -----------------------------------------------------------------------------------------------


def test_json_round_trip():
    cal = WorkCalendar.from_dict(SAMPLE)
    assert cal.to_dict() == SAMPLE
    assert WorkCalendar.from_json(cal.to_json()) == cal
    assert hash(WorkCalendar.from_json(json.dumps(SAMPLE))) == hash(cal)
    builtin = get_builtin("cn-standard")
    assert WorkCalendar.from_dict(builtin.to_dict()) == builtin
    assert get_builtin("24x7").to_dict()["week"]["sun"] == [["00:00", "24:00"]]
    assert pickle.loads(pickle.dumps(builtin)) == builtin == copy.deepcopy(builtin)


def test_python_constructor_normalises_and_validates():
    cal = WorkCalendar(timezone="UTC", week=[[[540, 1020]]] * 5 + [[], []], holidays=[date(2026, 1, 1)],
                       overrides={date(2026, 1, 3): [(600, 660)]})
    assert cal.week[0] == ((540, 1020),) and cal.holidays == frozenset({date(2026, 1, 1)})
    assert cal.intervals_on(date(2026, 1, 3)) == ((600, 660),)
    with pytest.raises(CalendarError, match=r"^week: expected 7 days"):
        WorkCalendar(timezone="UTC", week=[[(540, 1020)]] * 6)
    with pytest.raises(CalendarError, match=r"^week.tue\[1\]: intervals overlap"):
        WorkCalendar(timezone="UTC", week=[[], [(540, 720), (700, 800)], [], [], [], [], []])


def _changed(path: str, value) -> dict:
    data = copy.deepcopy(SAMPLE)
    *parents, last = path.split("/")
    target = data
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is _DELETE:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return data


_DELETE = object()

INVALID = [
    (_changed("week/mon/1", ["11:00", "14:00"]), "week.mon[1]: intervals overlap (11:00-14:00 starts before 12:00)"),
    (_changed("week/tue", [["13:00", "18:00"], ["09:00", "12:00"]]), "week.tue[1]: intervals out of order"),
    (_changed("timezone", "Mars/Base"), "timezone: unknown zone 'Mars/Base'"),
    (_changed("timezone", 8), "timezone: expected a zone name"),
    (_changed("timezone", _DELETE), "timezone: missing"),
    (_changed("week", _DELETE), "week: missing"),
    (_changed("overrides", {"2026-13-01": []}), "overrides.2026-13-01: not a date"),
    (_changed("overrides", {"tomorrow": []}), "overrides.tomorrow: not a date (expected YYYY-MM-DD)"),
    (_changed("overrides", {"2026-10-10": [["09:00", "09:00"]]}), "overrides.2026-10-10[0]: end 09:00 is not after "
                                                                  "start 09:00"),
    (_changed("overrides", []), "overrides: expected an object"),
    (_changed("holidays", ["2026-02-30"]), "holidays[0]: not a date '2026-02-30'"),
    (_changed("holidays", "2026-10-01"), "holidays: expected a list"),
    (_changed("week/wed/0", ["9:00", "12:00"]), "week.wed[0]: bad time '9:00' (expected HH:MM"),
    (_changed("week/wed/0", ["09:00", "24:01"]), "week.wed[0]: bad time '24:01'"),
    (_changed("week/wed/0", ["24:00", "24:00"]), "week.wed[0]: 24:00 can only end an interval"),
    (_changed("week/wed/0", ["12:00", "09:00"]), "week.wed[0]: end 09:00 is not after start 12:00"),
    (_changed("week/wed/0", ["09:00"]), 'week.wed[0]: expected ["HH:MM", "HH:MM"]'),
    (_changed("week/wed", "09:00-18:00"), "week.wed: expected a list"),
    (_changed("week/sun", _DELETE), "week: missing day 'sun'"),
    (_changed("week/funday", []), "week: unknown day 'funday'"),
    (_changed("week", []), "week: expected an object"),
    (_changed("colour", "red"), "calendar: unknown key 'colour'"),
    ({**SAMPLE, "week": {key: [] for key in SAMPLE["week"]}, "overrides": {"2026-10-10": []}},
     "calendar: no working time at all"),
    ([], "calendar: expected a JSON object"),
]


@pytest.mark.parametrize(("data", "message"), INVALID, ids=[m.split(":")[0] + ":" + m[-12:] for _, m in INVALID])
def test_every_validation_error_names_its_place(data, message):
    with pytest.raises(CalendarError) as caught:
        WorkCalendar.from_dict(data)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_bad_json_text():
    with pytest.raises(CalendarError, match=r"^not valid JSON: Expecting"):
        WorkCalendar.from_json("{timezone: UTC}")


# --- bad instants and durations ---------------------------------------------------------------------------------


def test_naive_instants_negative_targets_and_backwards_pauses_are_refused():
    cal = get_builtin("cn-standard")
    naive = datetime(2026, 9, 14, 9)
    with pytest.raises(CalendarError, match="^start: 2026-09-14T09:00:00 has no UTC offset"):
        add_working_time(cal, naive, 60)
    with pytest.raises(CalendarError, match="^end: .* has no UTC offset"):
        working_seconds(cal, cst(2026, 9, 14), naive)
    with pytest.raises(CalendarError, match="^start: .* has no UTC offset"):
        list(working_intervals(cal, naive, cst(2026, 9, 14)))
    with pytest.raises(CalendarError, match="^seconds: -1 is negative"):
        add_working_time(cal, cst(2026, 9, 14), -1)
    with pytest.raises(CalendarError, match="^seconds: expected a number"):
        add_working_time(cal, cst(2026, 9, 14), "60")  # type: ignore[arg-type]
    with pytest.raises(CalendarError, match=r"^pauses\[0\]: end .* is before start"):
        add_working_time(cal, cst(2026, 9, 14), 60, [(cst(2026, 9, 14, 10), cst(2026, 9, 14, 9))])
    with pytest.raises(CalendarError, match=r"^pauses\[0\] start: .* has no UTC offset"):
        add_working_time(cal, cst(2026, 9, 14), 60, [(naive, cst(2026, 9, 14, 10))])
    with pytest.raises(CalendarError, match="^unknown calendar 'cn-strict'"):
        get_builtin("cn-strict")


# --- due_command (the function behind `huoban sla due`) ---------------------------------------------------------


def test_due_command_with_a_builtin_a_file_and_pauses(tmp_path):
    assert due_command("cn-standard", None, "2026-10-09T09:00:00+08:00", 60, []) == "2026-10-09T10:00:00+08:00"
    assert due_command("cn-standard", None, "2026-10-09T01:00:00Z", 60, []) == "2026-10-09T10:00:00+08:00"
    file = tmp_path / "cal.json"
    file.write_text(json.dumps(SAMPLE), encoding="utf-8")
    assert due_command(None, file, "2026-09-30T17:00:00+08:00", 120, []) == "2026-10-02T10:00:00+08:00"
    pause = "2026-10-02T09:00:00+08:00/2026-10-02T09:30:00+08:00"
    assert due_command(None, file, "2026-09-30T17:00:00+08:00", 120, [pause]) == "2026-10-02T10:30:00+08:00"
    berlin = tmp_path / "berlin.json"
    berlin.write_text(json.dumps({**SAMPLE, "timezone": "Europe/Berlin"}), encoding="utf-8")
    assert due_command(None, berlin, "2026-03-27T17:00:00+01:00", 120, []) == "2026-03-30T10:00:00+02:00"


def test_due_command_errors_are_one_line(tmp_path):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{\n  timezone: UTC\n}", encoding="utf-8")
    overlapping = tmp_path / "overlap.json"
    overlapping.write_text(json.dumps(_changed("week/mon/1", ["11:00", "14:00"])), encoding="utf-8")
    start = "2026-10-09T09:00:00+08:00"
    cases = [
        (("cn-strict", None, start, 60, []), "unknown calendar 'cn-strict' (built-in: 24x7, cn-standard)"),
        ((None, None, start, 60, []), "give exactly one of --calendar NAME and --calendar-file FILE"),
        (("24x7", bad_json, start, 60, []), "give exactly one of"),
        ((None, bad_json, start, 60, []), f"--calendar-file {bad_json}: not valid JSON: Expecting property name"),
        ((None, overlapping, start, 60, []), f"--calendar-file {overlapping}: week.mon[1]: intervals overlap"),
        ((None, tmp_path / "missing.json", start, 60, []), f"--calendar-file {tmp_path / 'missing.json'}: cannot read"),
        (("24x7", None, start, -5, []), "--minutes: -5 is negative"),
        (("24x7", None, "2026-10-09T09:00:00", 60, []), "--start: '2026-10-09T09:00:00' has no UTC offset"),
        (("24x7", None, "next monday", 60, []), "--start: 'next monday' is not an ISO 8601 date and time"),
        (("24x7", None, start, 60, ["2026-10-09T09:00:00+08:00"]), "--pause: '2026-10-09T09:00:00+08:00' is not "
                                                                   "START/END"),
        (("24x7", None, start, 60, ["2026-10-09T09:00/2026-10-09T10:00"]), "--pause: '2026-10-09T09:00' has no UTC"),
        (("24x7", None, start, 60, ["2026-10-09T10:00+08:00/2026-10-09T09:00+08:00"]), "--pause: "
                                                                                      "'2026-10-09T10:00+08:00/"
                                                                                      "2026-10-09T09:00+08:00' ends "
                                                                                      "before it starts"),
    ]
    for args, message in cases:
        with pytest.raises(CalendarError) as caught:
            due_command(*args)
        assert str(caught.value).startswith(message), (args, str(caught.value))
        assert "\n" not in str(caught.value)
