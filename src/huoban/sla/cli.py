"""`huoban sla due`: when a clock started at an instant with a working-time target falls due."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from huoban.sla.calendar import CalendarError, WorkCalendar, add_working_time


def due_command(
    calendar_name: str | None, calendar_file: Path | None, start: str, minutes: int, pauses: list[str],
) -> str:
    """The due instant as ISO 8601 in the calendar's zone with its UTC offset, e.g. 2026-10-09T10:00:00+08:00.

    Raises CalendarError with a one-line reason for any bad input.
    """
    calendar = _calendar(calendar_name, calendar_file)
    if minutes < 0:
        raise CalendarError(f"--minutes: {minutes} is negative")
    begin = _instant("--start", start)
    spans = []
    for text in pauses:
        low, sep, high = text.partition("/")
        if not sep or not low or not high:
            raise CalendarError(f"--pause: {text!r} is not START/END (two ISO 8601 instants with UTC offsets)")
        pause_start, pause_end = _instant("--pause", low), _instant("--pause", high)
        if pause_end < pause_start:
            raise CalendarError(f"--pause: {text!r} ends before it starts")
        spans.append((pause_start, pause_end))
    due = add_working_time(calendar, begin, minutes * 60, spans)
    return due.astimezone(calendar.zone).isoformat()


def _calendar(name: str | None, path: Path | None) -> WorkCalendar:
    from huoban.sla.builtin import get_builtin

    if (name is None) == (path is None):
        raise CalendarError("give exactly one of --calendar NAME and --calendar-file FILE")
    if name is not None:
        return get_builtin(name)
    assert path is not None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CalendarError(f"--calendar-file {path}: cannot read ({_one_line(exc)})") from None
    try:
        return WorkCalendar.from_json(text)
    except CalendarError as exc:
        raise CalendarError(f"--calendar-file {path}: {_one_line(exc)}") from None


def _instant(option: str, text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CalendarError(f"{option}: {text!r} is not an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        raise CalendarError(f"{option}: {text!r} has no UTC offset (add e.g. +08:00 or Z)")
    return moment


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
