"""`huoban regions find`: divisions matching a name or code, each with its children."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from huoban.db import session_scope
from huoban.regions import service


def _matches(text: str, limit: int) -> list[dict[str, Any]]:
    """The matches and their children as plain data, read in one transaction."""
    with session_scope() as session:
        return [
            {
                "code": r.code, "name": r.name, "full_name": r.full_name, "level": r.level,
                "parent_code": r.parent_code, "longitude": r.longitude, "latitude": r.latitude,
                "children": [{"code": c.code, "name": c.name} for c in service.children(session, r.code)],
            }
            for r in service.search(session, text, limit)
        ]


def find_command(text: str, limit: int, as_json: bool, console: Console) -> None:
    """Print the divisions matching `text` (a Rich table each, or one JSON array); exit 1 if none match.
    Bad input raises huoban.errors.Invalid for the caller to report."""
    matches = _matches(text, limit)
    if not matches:
        print(f"no administrative division matches {text.strip()!r}", file=sys.stderr)
        raise typer.Exit(1)
    if as_json:
        console.out(json.dumps(matches, ensure_ascii=False), highlight=False)
        return
    for m in matches:
        table = Table(title=f"{m['name']} {m['code']}", title_justify="left",
                      caption=f"{len(m['children'])} children", caption_justify="left")
        for column in ("code", "name", "full name", "level"):
            table.add_column(column, no_wrap=column == "code")
        table.add_row(m["code"], m["name"], m["full_name"], m["level"], style="bold")
        if m["children"]:
            table.add_section()
        for c in m["children"]:
            table.add_row(c["code"], c["name"], "", "")
        console.print(table)
