"""`huoban dispatch ...` commands: run a dispatch round and print its plan; list engineers."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="On-site dispatch: plans and engineers.", no_args_is_help=True)

CHINA = "Asia/Shanghai"


def _local(value: datetime | None) -> str:
    from zoneinfo import ZoneInfo

    return "" if value is None else value.astimezone(ZoneInfo(CHINA)).strftime("%m-%d %H:%M")


def plan_json(read: Any) -> dict[str, Any]:
    """The plan as printed by `--json` (see the README)."""
    proposals = []
    for p in read.proposals:
        e = p.explanation
        proposals.append({
            "work_order_id": p.work_order_id, "title": p.title, "priority": p.priority, "county": p.county,
            "engineer_id": p.engineer_id, "engineer": p.engineer, "organization": p.organization,
            "distance_km": p.distance_km, "travel_minutes": p.travel_minutes,
            "arrival_at": p.arrival_at.isoformat() if p.arrival_at else None,
            "due_at": p.due_at.isoformat() if p.due_at else None, "on_time": p.on_time,
            "late_minutes": p.late_minutes, "skills_matched": e.get("skills_matched", []),
            "runner_up": e.get("runner_up"), "reasons": e.get("reasons", []),
        })
    return {"plan_id": read.id, "planned_at": read.planned_at.isoformat(), "summary": read.summary.model_dump(),
            "proposals": proposals}


@app.command("plan")
def plan(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Compute and print only; store nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as one JSON object")] = False,
) -> None:
    """Run a dispatch round over the open work orders and the free engineers; store the proposals for the
    dispatchers (unless --dry-run) and print them as a table (or JSON)."""
    from huoban.cli import console, run_cli
    from huoban.db import session_scope
    from huoban.dispatch import service, views

    def go() -> dict[str, Any]:
        with session_scope() as session:
            outcome = service.compute_plan(session, None, refresh=not dry_run)
            if not dry_run:
                service.persist_plan(session, None, outcome)
            return plan_json(views.plan_read(session, outcome.plan, outcome.proposals))

    data = run_cli(go)
    if as_json:
        console.out(json.dumps(data, ensure_ascii=False), highlight=False)
        return
    s = data["summary"]
    title = (f"Dispatch plan {data['plan_id'] or '(dry run)'}: {s['orders']} orders, {s['engineers']} free engineers, "
             f"{s['on_time']} on time, {s['late']} late, {s['unassigned']} unassigned, "
             f"{s['travel_hours']} h travel, solved in {s['solve_ms']} ms")
    table = Table(title=title, title_justify="left")
    for column in ("order", "P", "title", "county", "engineer", "travel", "arrives", "due", "late", "skills",
                   "runner-up", "reasons"):
        table.add_column(column, no_wrap=column in ("order", "P", "arrives", "due"), overflow="fold",
                         min_width={"title": 12, "reasons": 22}.get(column))
    for p in data["proposals"]:
        runner = p["runner_up"]
        table.add_row(
            str(p["work_order_id"]), p["priority"], p["title"], p["county"],
            f"{p['engineer']}\n{p['organization']}" if p["engineer_id"] else "-",
            "" if p["distance_km"] is None else f"{p['distance_km']:.1f} km\n{p['travel_minutes']} min",
            _local(datetime.fromisoformat(p["arrival_at"])) if p["arrival_at"] else "",
            _local(datetime.fromisoformat(p["due_at"])) if p["due_at"] else "",
            str(p["late_minutes"] or 0) if p["engineer_id"] else "", "\n".join(p["skills_matched"]),
            f"{runner['engineer']}\n{runner['travel_minutes']} min" if runner else "",
            "\n".join(p["reasons"]),
            style="red" if p["engineer_id"] is None else "yellow" if p["on_time"] is False else None,
        )
    # the plan has many columns: when piped, print it wider than the CLI's usual 140 so none is cropped
    (console if sys.stdout.isatty() else Console(width=220)).print(table)


@app.command("engineers")
def engineers(
    org: Annotated[int | None, typer.Option("--org", help="Organization id")] = None,
    skill: Annotated[str | None, typer.Option("--skill", help="Only engineers with this skill")] = None,
    region: Annotated[str | None, typer.Option("--region", help="Home base under this division code")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array")] = False,
) -> None:
    """List the active engineers with skills, home base and regions served."""
    from sqlalchemy import select

    from huoban.cli import console, fail, run_cli
    from huoban.db import session_scope
    from huoban.dispatch import engineers as profiles
    from huoban.dispatch import repository as repo
    from huoban.models import Engineer

    if region is not None and not (len(region) == 6 and region.isdigit()):
        fail("--region: a division code has exactly 6 digits")

    def go() -> list[dict[str, Any]]:
        with session_scope() as session:
            f = repo.EngineerFilter(org, skill, region, True)
            stmt = select(Engineer).where(Engineer.is_active.is_(True)).order_by(Engineer.id)
            rows = [e for e in session.scalars(stmt)
                    if (f.org_id is None or e.org_id == f.org_id)
                    and (f.skill is None or f.skill in (e.skills or []))
                    and (f.region_code is None or e.home_region_code.startswith(repo.region_prefix(f.region_code)))]
            return [r.model_dump(mode="json", include={
                "id", "name", "org_name", "skills", "home_region_code", "home_region_name", "regions_served",
                "max_orders_per_day", "active_work_order_id"}) for r in profiles.engineer_reads(session, rows)]

    rows = run_cli(go)
    if as_json:
        console.out(json.dumps(rows, ensure_ascii=False), highlight=False)
        return
    table = Table(title=f"{len(rows)} engineers", title_justify="left")
    for column in ("id", "name", "organization", "skills", "home", "serves", "per day", "holding"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(str(r["id"]), r["name"], r["org_name"], ", ".join(r["skills"]), r["home_region_name"],
                      ", ".join(r["regions_served"]) or "anywhere", str(r["max_orders_per_day"]),
                      str(r["active_work_order_id"] or ""))
    console.print(table)
