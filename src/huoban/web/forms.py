"""What every page's forms share: ids read from forms and query strings, errors shown next to their fields,
and the rows a page names by id, looked up in one query each."""

from __future__ import annotations

import re
from typing import TypeVar

from fastapi import Request
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from huoban.errors import HuobanError, Invalid
from huoban.models import Region
from huoban.web.i18n import translate_error
from huoban.web.render import request_locale

MAX_ID = 2**31 - 1  # ids beyond the database's integer are unknown, not a database error
DIGITS = re.compile(r"[0-9]{1,12}")  # ASCII only: str.isdigit() is true for "²", which int() refuses

T = TypeVar("T")


class FieldErrors(Invalid):
    """A 422 naming several fields at once (the rows of an item editor)."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("Please correct the marked fields.", field=next(iter(fields), None))
        self.fields = fields


def query_id(value: str) -> int | None:
    """A row id from a form or query string, or None when it cannot be one."""
    text = value.strip()
    number = int(text) if DIGITS.fullmatch(text) else 0
    return number if 0 < number <= MAX_ID else None


def form_id(value: str, field: str) -> int | None:
    """An id chosen in a form: None when left empty; anything but a plausible row id is refused before it
    reaches the database."""
    if not value.strip():
        return None
    number = query_id(value)
    if number is None:
        raise Invalid("Choose one of the offered options.", field=field)
    return number


def form_errors(request: Request, exc: Exception) -> tuple[str, dict[str, str], int]:
    """The message, per-field messages and status for a form shown again."""
    locale = request_locale(request)
    if isinstance(exc, FieldErrors):
        return translate_error(locale, exc.message, exc.params), exc.fields, exc.status_code
    if isinstance(exc, HuobanError):
        text = translate_error(locale, exc.message, exc.params)
        return text, ({exc.field: text} if exc.field else {}), exc.status_code
    if isinstance(exc, ValidationError):
        fields = {".".join(str(p) for p in e["loc"]): e["msg"] for e in exc.errors()}
        return translate_error(locale, "Please correct the marked fields.", {}), fields, 422
    raise exc


def by_id(session: Session, model: type[T], ids: set[int | None] | set[int]) -> dict[int, T]:
    """The rows of `model` with these ids (None ignored), by id."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    column = model.id  # type: ignore[attr-defined]
    return {row.id: row for row in session.scalars(select(model).where(column.in_(wanted)))}  # type: ignore[attr-defined]


def regions_by_code(session: Session, codes: set[str | None]) -> dict[str, Region]:
    wanted = {c for c in codes if c}
    return {r.code: r for r in session.scalars(select(Region).where(Region.code.in_(wanted)))} if wanted else {}
