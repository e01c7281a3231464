"""Read the administrative-division table shipped in the cpca package (no pandas, no network)."""

from __future__ import annotations

import csv
from importlib import resources
from typing import Any

PLACEHOLDER_NAMES = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})


def _level(code: str) -> str:
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "county"


def division_rows() -> list[dict[str, Any]]:
    """Every division as a row for the `regions` table, parents before children.

    A real division whose natural parent is a placeholder hangs from the province instead,
    so 北京市's children are its districts and 海南省's include 琼海市.
    """
    text = resources.files("cpca").joinpath("resources/adcodes.csv").read_text(encoding="utf-8")
    raw: dict[str, tuple[str, str, str]] = {}
    for rec in csv.DictReader(text.splitlines()):
        raw[rec["adcode"][:6]] = (rec["name"].strip(), rec["longitude"], rec["latitude"])

    def is_placeholder(code: str) -> bool:
        return raw[code][0] in PLACEHOLDER_NAMES

    def natural_parent(code: str) -> str | None:
        level = _level(code)
        candidate = None if level == "province" else code[:2] + "0000" if level == "city" else code[:4] + "00"
        if candidate is not None and candidate not in raw:
            candidate = code[:2] + "0000" if level == "county" else None
        return candidate if candidate in raw else None

    def real_parent(code: str) -> str | None:
        parent = natural_parent(code)
        while parent is not None and is_placeholder(parent):
            parent = natural_parent(parent)
        return parent

    def coordinates(code: str | None) -> tuple[float, float]:
        while code is not None:
            _, lng, lat = raw[code]
            if lng and lat:
                return float(lng), float(lat)
            code = natural_parent(code)
        raise ValueError("division without coordinates")

    rows: list[dict[str, Any]] = []
    order = {"province": 0, "city": 1, "county": 2}
    for code in sorted(raw, key=lambda c: (order[_level(c)], c)):
        name = raw[code][0]
        placeholder = is_placeholder(code)
        parent = natural_parent(code) if placeholder else real_parent(code)
        names = [name]
        up = real_parent(code)
        while up is not None:
            names.insert(0, raw[up][0])
            up = real_parent(up)
        lng, lat = coordinates(code)
        rows.append(
            {
                "code": code,
                "name": name,
                "full_name": "".join(names),
                "level": _level(code),
                "placeholder": placeholder,
                "parent_code": parent,
                "province_code": code[:2] + "0000",
                "longitude": lng,
                "latitude": lat,
            }
        )
    return rows
