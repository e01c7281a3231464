"""Built-in calendars: `24x7` and `cn-standard` (China's working week with its statutory holidays and 调休).

`cn-standard` takes the holidays and the adjusted working weekends from the `chinesecalendar` package for
every year it knows (`CN_KNOWN_YEARS`); later years fall back to the plain Monday-Friday week until the
package is upgraded, since the State Council announces each year's arrangement only in the autumn before.
"""

from __future__ import annotations

from functools import cache

from huoban.sla.calendar import CalendarError, WorkCalendar

BUILTIN_NAMES = ("24x7", "cn-standard")

CN_ZONE = "Asia/Shanghai"
CN_DAY = ((9 * 60, 12 * 60), (13 * 60, 18 * 60))
"""09:00-12:00 and 13:00-18:00, the usual office day with a lunch break."""


@cache
def get_builtin(name: str) -> WorkCalendar:
    """The named built-in calendar, one shared instance per name (so its span index is built once)."""
    if name == "24x7":
        return WorkCalendar(timezone=CN_ZONE, week=(((0, 24 * 60),),) * 7)
    if name == "cn-standard":
        return _cn_standard()
    raise CalendarError(f"unknown calendar {name!r} (built-in: {', '.join(BUILTIN_NAMES)})")


def _cn_standard() -> WorkCalendar:
    from chinese_calendar import constants

    # Named holidays only: is_holiday() on a weekday is always one of these, and the named weekend days
    # (e.g. Saturday 2026-10-03) are closed anyway. Adjusted working days are Saturdays and Sundays
    # (is_workday() on a weekend), opened with the standard day.
    holidays = frozenset(constants.holidays)
    overrides = {day: CN_DAY for day in constants.workdays if day.weekday() >= 5}
    return WorkCalendar(timezone=CN_ZONE, week=(CN_DAY,) * 5 + ((), ()), holidays=holidays, overrides=overrides)


def cn_known_years() -> range:
    """The years whose arrangement the installed `chinesecalendar` knows."""
    from chinese_calendar import constants

    years = [day.year for day in constants.holidays]
    return range(min(years), max(years) + 1)
