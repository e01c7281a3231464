"""Requirement items to and from .xlsx (customers send requirements as spreadsheets).

Columns, by header in Chinese or English (either, or both as "标题/title"): 编号/key (optional),
标题/title, 描述/description, 验收标准/acceptance criteria, 优先级/priority (must/should/could or
必须/应该/可以), 负责人/owner (an e-mail address of a user of the provider, a partner or the customer).
An export re-imports to the identical item set. A file with any bad row is refused as a whole, naming
every bad row and field; a file that cannot be read at all is refused naming `file`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

from openpyxl import Workbook, load_workbook
from pydantic import ValidationError

from huoban.engagements.requirements_schemas import ItemIn
from huoban.errors import Invalid

MAX_BYTES = 1024 * 1024
MAX_ROWS = 500
HEADERS = (("key", "编号", "key"), ("title", "标题", "title"), ("description", "描述", "description"),
           ("acceptance_criteria", "验收标准", "acceptance criteria"), ("priority", "优先级", "priority"),
           ("owner", "负责人", "owner"))
PRIORITIES = {"must": "must", "should": "should", "could": "could", "必须": "must", "应该": "should", "可以": "could"}
_ALIASES = {alias: field for field, zh, en in HEADERS for alias in (zh, en, en.replace(" ", "_"), field)}


class RowErrors(Invalid):
    """A 422 that lists every bad row: errors [{row, field, message}]."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("The spreadsheet has %(n)s error(s); nothing was imported.", field="file", n=len(errors))
        self.errors = errors

    def body(self) -> dict[str, Any]:
        return {"detail": str(self), "code": self.code,
                "errors": [{"field": f"row {e['row']}: {e['field']}", **e} for e in self.errors]}


def _header_field(value: Any) -> str | None:
    text = str(value or "").strip().lower()
    for part in [text, *re.split(r"\s*/\s*", text)]:
        if part in _ALIASES:
            return _ALIASES[part]
    return None


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _rows(data: bytes) -> list[tuple[Any, ...]]:
    """Every row of the first sheet. A damaged file can fail anywhere in the parser (zip, XML — whose ParseError is
    a SyntaxError —, styles, cell values) and, in read-only mode, only while iterating: any failure here is an
    unreadable file, not a server error."""
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            return list(book.worksheets[0].iter_rows(values_only=True)) if book.worksheets else []
        finally:
            book.close()
    except Exception:  # noqa: BLE001 - untrusted input to a third-party parser
        raise Invalid("Not a readable .xlsx file.", field="file") from None


def _read_row(number: int, values: dict[str, Any], owners: Mapping[str, int],
              seen: dict[str, int]) -> tuple[ItemIn | None, list[dict[str, Any]]]:
    """The item of one row, or every error of it (each field is checked whatever the others hold); a new key
    is remembered in `seen` against its row."""
    errors: list[dict[str, Any]] = []
    priority = values.get("priority")
    values["priority"] = PRIORITIES.get((priority or "should").lower())
    if values["priority"] is None:
        errors.append({"row": number, "field": "priority", "message": "must/should/could or 必须/应该/可以"})
    owner = values.pop("owner", None)
    if owner is not None:
        values["owner_id"] = owners.get(owner.lower())
        if values["owner_id"] is None:
            errors.append({"row": number, "field": "owner",
                           "message": "not a user of the provider, a partner or the customer"})
    key = values.get("key")
    if key is not None:
        if key in seen:
            errors.append({"row": number, "field": "key", "message": f"already used in row {seen[key]}"})
        else:
            seen[key] = number
    try:
        item = ItemIn.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        errors.extend({"row": number, "field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
                      for err in exc.errors())
        return None, errors
    return (None if errors else item), errors


def read_items(data: bytes, owners: Mapping[str, int]) -> list[ItemIn]:
    """Items from the first sheet of an .xlsx; RowErrors/Invalid when anything is wrong. `owners` maps the
    lower-case e-mail of each user who may own an item to the user's id."""
    if len(data) > MAX_BYTES:
        raise Invalid("The file is larger than 1 MB.", field="file")
    if not data.startswith(b"PK\x03\x04"):
        raise Invalid("Not an .xlsx file.", field="file")
    rows = _rows(data)
    if not rows:
        raise Invalid("The spreadsheet is empty.", field="file")
    columns: dict[str, int] = {}
    for index, value in enumerate(rows[0]):
        name = _header_field(value)
        if name and name not in columns:
            columns[name] = index
    if "title" not in columns:
        raise Invalid("The first row must name the columns; 标题/title is required.", field="file")
    errors: list[dict[str, Any]] = []
    out: list[ItemIn] = []
    seen: dict[str, int] = {}
    filled = 0
    for number, row in enumerate(rows[1:], start=2):
        values: dict[str, Any] = {name: _cell(row[i]) if i < len(row) else None for name, i in columns.items()}
        if not any(values.values()):
            continue
        filled += 1
        item, row_errors = _read_row(number, values, owners, seen)
        errors.extend(row_errors)
        if item is not None:
            out.append(item)
    if filled > MAX_ROWS:
        raise Invalid("At most %(n)s requirement rows per file.", field="file", n=MAX_ROWS)
    if errors:
        raise RowErrors(errors)
    if not out:
        raise Invalid("The spreadsheet has no requirement rows.", field="file")
    return out


def write_items(items: list[dict[str, Any]], emails: Mapping[int, str], title: str = "Requirements") -> bytes:
    """An .xlsx with one row per item, in order, under the bilingual headers; owners by e-mail (`emails` maps
    user ids to addresses)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append([f"{zh}/{en}" for _, zh, en in HEADERS])
    for item in items:
        owner = emails.get(item["owner_id"]) if item.get("owner_id") is not None else None
        sheet.append([owner if field == "owner" else item.get(field) for field, _, _ in HEADERS])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text, never a formula (no formula injection into the customer's Excel)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
