"""Chinese (default) and English catalogs, compiled from the .po files in memory at start-up.

Message ids are English; the zh_CN catalog translates every one of them, en is the identity.
"""

from __future__ import annotations

import io
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
LOCALES = ("zh_CN", "en")
LOCALE_NAMES = {"zh_CN": "中文", "en": "English"}


@lru_cache
def translations(locale: str) -> NullTranslations:
    po = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf)


def gettext_for(locale: str) -> Any:
    trans = translations(locale)

    def _(message: str, **params: Any) -> str:
        text = trans.gettext(message)
        return text % params if params else text

    return _


def translate_error(locale: str, message: str, params: dict[str, Any]) -> str:
    return gettext_for(locale)(message, **params)


def pick_locale(requested: str | None, user_locale: str | None, default: str) -> str:
    for candidate in (requested, user_locale, default):
        if candidate in LOCALES:
            return candidate
    return "zh_CN"


def format_instant(value: datetime | None, locale: str, tz: str, fmt: str = "medium") -> str:
    """An instant in the viewer's zone, e.g. 2026年11月26日 18:30:00 (Asia/Shanghai)."""
    if value is None:
        return ""
    return format_datetime(value.astimezone(ZoneInfo(tz)), format=fmt, locale=Locale.parse(locale))
