"""One year's holidays and adjusted working days (调休) as an Excel sheet, the form the State Council's
announcement is usually retyped into: columns 日期/date, 类型/type (休/holiday or 班/workday) and
optionally 时段/intervals ("09:00-12:00,13:00-18:00"; a workday without them gets the calendar's Monday).

Reading is all or nothing: every bad row is reported with its row number and nothing is imported.
"""

from __future__ import annotations

import re
import zipfile
from datetime import date, datetime
from io import BytesIO
from typing import Any

from huoban.errors import Invalid
from huoban.sla.calendar import CalendarError, WorkCalendar
from huoban.sla.schemas import YearImport

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZIP_MAGIC = b"PK\x03\x04"
MAX_BYTES = 1024 * 1024
MAX_ROWS = 1000
HOLIDAY, WORKDAY = "休", "班"
TYPES = {"休": HOLIDAY, "holiday": HOLIDAY, "班": WORKDAY, "workday": WORKDAY}
HEADERS = ("日期 date", "类型 type (休/holiday, 班/workday)", "时段 intervals (班 only; empty = the calendar's Monday)")

_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_SPAN = re.compile(r"(\d{1,2}:\d{2})\s*[-–—~至]\s*(\d{1,2}:\d{2})")


class RowErrors(Invalid):
    """Every bad row of a sheet at once, each with its row number."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        listed = "; ".join(f"row {row}: {message}" for row, message in problems)
        noun = "row is" if len(problems) == 1 else "rows are"
        super().__init__(f"{len(problems)} {noun} wrong, nothing was imported: {listed}", field="file")

    def body(self) -> dict[str, Any]:
        return {"detail": str(self), "code": self.code,
                "errors": [{"field": f"row {row}", "message": message, "row": row} for row, message in self.problems]}


def check_upload(data: bytes, content_type: str | None) -> None:
    """Size and type: at most 1 MB, declared as xlsx (or unspecified binary), bytes that start as a zip."""
    if not data:
        raise Invalid("The file is empty.", field="file")
    if len(data) > MAX_BYTES:
        raise Invalid("The file is larger than 1 MB.", field="file")
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared not in (XLSX_TYPE, "application/octet-stream", "") or not data.startswith(ZIP_MAGIC):
        raise Invalid("Upload an Excel workbook (.xlsx).", field="file")


def template(year: int, definition: dict[str, Any]) -> bytes:
    """A workbook to fill in for `year`: the calendar's current arrangement of that year, or examples."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = f"{year}"
    sheet.append(HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    prefix = f"{year:04d}-"
    rows: list[tuple[date, str, str]] = [
        (date.fromisoformat(d), HOLIDAY, "") for d in definition.get("holidays", []) if d.startswith(prefix)]
    for day, intervals in definition.get("overrides", {}).items():
        if day.startswith(prefix):
            rows.append((date.fromisoformat(day), WORKDAY if intervals else HOLIDAY, format_intervals(intervals)))
    if not rows:  # examples in the shape of a real announcement
        rows = [(date(year, 1, 1), HOLIDAY, ""), (date(year, 10, 1), HOLIDAY, ""),
                (date(year, 10, 10), WORKDAY, ""), (date(year, 12, 31), WORKDAY, "09:00-12:00")]
    for day, kind, intervals in sorted(rows):
        sheet.append([day, kind, intervals])
        sheet.cell(sheet.max_row, 1).number_format = "yyyy-mm-dd"
    for column, width in zip("ABC", (14, 30, 50), strict=True):
        sheet.column_dimensions[column].width = width
    notes = book.create_sheet("说明 readme")
    for line in (
        f"{year} 年的假期安排：每行一个日期。导入时替换该年全部节假日和调休，其他年份不变。",
        "One date per row. Importing replaces all of this year's holidays and overrides; other years stay.",
        "类型 type: 休 / holiday = 全天休息 closed all day; 班 / workday = 上班 working (调休).",
        "时段 intervals: 仅用于班, e.g. 09:00-12:00,13:00-18:00; 留空 = 日历的周一时段 (the calendar's Monday).",
    ):
        notes.append([line])
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def format_intervals(intervals: list[list[str]]) -> str:
    return ",".join(f"{start}-{end}" for start, end in intervals)


def read_year(data: bytes, year: int, definition: dict[str, Any]) -> YearImport:
    """The sheet as a year import for a calendar with this definition, or RowErrors listing every bad row."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError):
        raise Invalid("The file is not a readable .xlsx workbook.", field="file") from None
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        problems: list[tuple[int, str]] = []
        columns: dict[str, int] | None = None
        holidays: list[str] = []
        overrides: dict[str, list[list[str]]] = {}
        seen: dict[date, int] = {}
        for number, values in enumerate(rows, start=1):
            cells = list(values or ())
            if not any(_text(v) for v in cells):
                continue
            if columns is None:
                columns = _header(cells)
                if columns is None:
                    raise RowErrors([(number, "expected a header row with 日期/date, 类型/type and optionally "
                                              "时段/intervals")])
                continue
            if number > MAX_ROWS + 1:
                problems.append((number, f"too many rows (at most {MAX_ROWS})"))
                break
            problem = _row(cells, columns, year, definition, number, seen, holidays, overrides)
            if problem:
                problems.append((number, problem))
        if columns is None:
            raise RowErrors([(1, "the sheet is empty")])
        if problems:
            raise RowErrors(problems)
        return YearImport(year=year, holidays=holidays, overrides=overrides)
    finally:
        book.close()


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _header(cells: list[Any]) -> dict[str, int] | None:
    found: dict[str, int] = {}
    for n, value in enumerate(cells):
        text = _text(value).lower()
        for key, words in (("date", ("日期", "date")), ("type", ("类型", "type")),
                           ("intervals", ("时段", "interval"))):
            if key not in found and any(word in text for word in words):
                found[key] = n
                break
    return found if "date" in found and "type" in found else None


def _row(cells: list[Any], columns: dict[str, int], year: int, definition: dict[str, Any], number: int,
         seen: dict[date, int], holidays: list[str], overrides: dict[str, list[list[str]]]) -> str | None:
    def cell(key: str) -> Any:
        n = columns.get(key)
        return cells[n] if n is not None and n < len(cells) else None

    day = _date(cell("date"))
    if day is None:
        return f"日期/date {_text(cell('date'))!r} is not a date (YYYY-MM-DD)"
    if day.year != year:
        return f"{day.isoformat()} is not in {year}"
    if day in seen:
        return f"{day.isoformat()} is already on row {seen[day]}"
    seen[day] = number
    kind = TYPES.get(_text(cell("type")).lower())
    if kind is None:
        return f"类型/type {_text(cell('type'))!r} is not 休/holiday or 班/workday"
    text = _text(cell("intervals"))
    if kind == HOLIDAY:
        if text:
            return "a 休/holiday is closed all day: leave 时段/intervals empty (use 班 for a shorter working day)"
        holidays.append(day.isoformat())
        return None
    if text:
        intervals = _intervals(text)
        if intervals is None:
            return f"时段/intervals {text!r}: expected e.g. 09:00-12:00,13:00-18:00"
    else:
        intervals = [list(pair) for pair in definition["week"]["mon"]]
        if not intervals:
            return "the calendar's Monday has no working time: give 时段/intervals"
    try:
        WorkCalendar.from_dict({"timezone": definition["timezone"], "week": definition["week"],
                                "overrides": {day.isoformat(): intervals}})
    except CalendarError as exc:
        return f"时段/intervals {text!r}: {str(exc).partition(': ')[2] or exc}"
    overrides[day.isoformat()] = intervals
    return None


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    match = _DATE.fullmatch(_text(value))
    if match is None:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def _intervals(text: str) -> list[list[str]] | None:
    parts = [part.strip() for part in re.split(r"[,，;；]", text) if part.strip()]
    spans = []
    for part in parts:
        match = _SPAN.fullmatch(part)
        if match is None:
            return None
        spans.append([value.zfill(5) for value in match.groups()])
    return spans or None
