"""The `huoban` command line. Each command is one transaction, committed when it succeeds."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from huoban.config import get_settings
from huoban.errors import HuobanError

app = typer.Typer(help="Huoban (伙伴): customers, partners and the provider running big projects together.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
orgs_app = typer.Typer(help="Organizations: the operator, partners and customers.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens.", no_args_is_help=True)
regions_app = typer.Typer(help="China's administrative divisions.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
for sub, name in ((db_app, "db"), (orgs_app, "orgs"), (users_app, "users"), (tokens_app, "tokens"),
                  (regions_app, "regions"), (audit_app, "audit")):
    app.add_typer(sub, name=name)

from huoban.dispatch.cli import app as dispatch_app  # noqa: E402

app.add_typer(dispatch_app, name="dispatch")

T = TypeVar("T")
console = Console(width=None if sys.stdout.isatty() else 140)


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr and a non-zero exit: the CLI's answer to bad input."""
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code)


def run_cli(fn: Callable[[], T]) -> T:
    """Turn business errors and database errors into one-line messages."""
    from sqlalchemy.exc import OperationalError

    try:
        return fn()
    except HuobanError as exc:
        field = f" ({exc.field})" if exc.field else ""
        fail(f"{exc}{field}")
    except OperationalError as exc:
        fail(f"database unavailable: {exc.orig}")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply Alembic migrations up to REVISION (default: head)."""
    from huoban.migrate import upgrade

    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    run_cli(lambda: upgrade(settings.resolved_database_url(), revision))
    console.print(f"database at [bold]{revision}[/bold]")


@app.command()
def init() -> None:
    """Create ./var, the secret key and the database schema (with the division table). Safe to repeat."""
    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    settings.resolved_secret_key()
    db_upgrade("head")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development)")] = False,
) -> None:
    """Serve the web UI and the API with Uvicorn."""
    import uvicorn

    get_settings().resolved_secret_key()
    uvicorn.run("huoban.app:create_app", factory=True, host=host, port=port, workers=workers, reload=reload,
                proxy_headers=True)


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Deliver what is due, then exit")] = False,
    name: Annotated[str | None, typer.Option(help="Worker name shown in claimed rows")] = None,
) -> None:
    """Deliver the outbox (e-mail, webhooks) with retries; several workers may run at once."""
    from huoban.jobs.worker import run_worker

    run_worker(once=once, name=name)


@app.command()
def demo(
    password: Annotated[str, typer.Option(help="Password for every demo account")] = "Huoban-demo-2026",
) -> None:
    """Load the demo organizations and users (idempotent) and print the logins."""
    from huoban.db import session_scope
    from huoban.demo import load_demo

    def go() -> list[tuple[str, str, str, str]]:
        with session_scope() as session:
            return load_demo(session, password)

    logins = run_cli(go)
    table = Table(title=f"Demo logins (password: {password})")
    table.add_column("organization")
    table.add_column("role", no_wrap=True)
    table.add_column("e-mail", no_wrap=True, min_width=30)
    table.add_column("name", no_wrap=True)
    for row in logins:
        table.add_row(*row)
    console.print(table)


@orgs_app.command("create")
def orgs_create(
    kind: Annotated[str, typer.Option("--kind", help="operator, partner or customer")],
    name: Annotated[str, typer.Option("--name", help="Unique organization name")],
    region: Annotated[str | None, typer.Option("--region", help="6-digit administrative division code")] = None,
    industry: Annotated[str | None, typer.Option("--industry", help="Industry, e.g. government")] = None,
) -> None:
    """Create an organization."""
    from pydantic import ValidationError

    from huoban.db import session_scope
    from huoban.identity.schemas import OrgCreate
    from huoban.identity.service import create_org

    try:
        data = OrgCreate(kind=kind, name=name, region_code=region, industry=industry)
    except ValidationError as exc:
        err = exc.errors()[0]
        fail(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}")

    def go() -> int:
        with session_scope() as session:
            return create_org(session, None, data).id

    org_id = run_cli(go)
    console.print(f"created organization {org_id}: {name}")


@users_app.command("create")
def users_create(
    org: Annotated[str, typer.Option("--org", help="Organization name (or id)")],
    role: Annotated[str, typer.Option("--role", help="Role within that organization")],
    email: Annotated[str, typer.Option("--email", help="Login e-mail")],
    password: Annotated[
        str | None, typer.Option("--password", help="Password; generated and printed if omitted")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name (default: the e-mail's local part)")] = None,
) -> None:
    """Create a user in an organization."""
    from pydantic import ValidationError
    from sqlalchemy import select

    from huoban.db import session_scope
    from huoban.identity.schemas import UserCreate
    from huoban.identity.service import create_user
    from huoban.models import Organization, Role

    if role not in {r.value for r in Role}:
        fail(f"role {role!r} does not exist; roles are: {', '.join(r.value for r in Role)}")

    def go() -> tuple[int, str | None]:
        with session_scope() as session:
            found = session.scalar(select(Organization).where(Organization.name == org))
            if found is None and org.isdigit():
                found = session.get(Organization, int(org))
            if found is None:
                fail(f"organization {org!r} not found")
            try:
                data = UserCreate(org_id=found.id, email=email, role=role,
                                  display_name=name or email.split("@")[0], password=password)
            except ValidationError as exc:
                err = exc.errors()[0]
                fail(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}")
            user, generated = create_user(session, None, data, get_settings())
            return user.id, generated

    user_id, generated = run_cli(go)
    console.print(f"created user {user_id}: {email}")
    if generated:
        console.print(f"initial password: {generated}")


@tokens_app.command("create")
def tokens_create(
    user: Annotated[str, typer.Option("--user", help="The user's e-mail")],
    name: Annotated[str, typer.Option("--name", help="A label for the token")] = "cli",
    days: Annotated[int | None, typer.Option("--days", help="Expire after this many days")] = None,
) -> None:
    """Create an API token for a user and print it once (only its hash is stored)."""
    from huoban.db import session_scope
    from huoban.identity.repository import find_user_by_email
    from huoban.identity.schemas import TokenCreate
    from huoban.identity.service import create_token

    def go() -> str:
        with session_scope() as session:
            found = find_user_by_email(session, user)
            if found is None:
                fail(f"user {user!r} not found")
            return create_token(session, None, found, TokenCreate(name=name, expires_in_days=days))[1]

    print(run_cli(go))


@regions_app.command("find")
def regions_find(
    text: Annotated[str, typer.Argument(help="A name (宁波, 海曙区) or a 6-digit code")],
    limit: Annotated[int, typer.Option(help="At most this many matches")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Find divisions by name or code and list each match's children."""
    from huoban.regions.cli import find_command

    run_cli(lambda: find_command(text, limit, as_json, console))


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit log's hash chain; exit 1 naming the first bad row."""
    from huoban.audit.service import VerifyResult, verify
    from huoban.db import session_scope

    def go() -> VerifyResult:
        with session_scope() as session:
            return verify(session)

    result = run_cli(go)
    if not result.ok:
        fail(f"audit log broken at row {result.first_bad_id}: {result.reason} "
             f"({result.checked} rows verified before it)")
    console.print(f"audit log intact: {result.checked} rows verified")


# --- sla ---------------------------------------------------------------------------------------------------------

sla_app = typer.Typer(help="SLA: due times, calendars' yearly holidays, recomputing clocks, the escalation sweep.",
                      no_args_is_help=True)
app.add_typer(sla_app, name="sla")


def _sla_run(fn: Callable[[], T]) -> T:
    """Like run_cli, but SLA messages already name their field (e.g. `holidays[3]: ...`)."""
    from sqlalchemy.exc import OperationalError

    try:
        return fn()
    except HuobanError as exc:
        text = " ".join(str(exc).split())
        fail(text if not exc.field or text.startswith(exc.field) else f"{text} ({exc.field})")
    except OperationalError as exc:
        fail(f"database unavailable: {' '.join(str(exc.orig).split())}")


def _stored_definition(name: str) -> dict | None:
    """The calendar of that name in the configured database, if there is one (operators may have imported
    a newer year into a built-in); None without a database, so `sla due` works anywhere."""
    from pathlib import Path

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from huoban.db import session_scope
    from huoban.sla.service import find_calendar

    url = make_url(get_settings().resolved_database_url())
    if url.get_backend_name() == "sqlite" and (not url.database or not Path(url.database).is_file()):
        return None
    try:
        with session_scope() as session:
            row = find_calendar(session, name)
            return dict(row.definition) if row is not None else None
    except SQLAlchemyError:
        return None


@sla_app.command("due")
def sla_due(
    calendar: Annotated[str | None, typer.Option(
        "--calendar", help="Calendar name: built-in 24x7 or cn-standard, or one stored in the database")] = None,
    calendar_file: Annotated[str | None, typer.Option(
        "--calendar-file", help="A calendar in the JSON form (timezone, week, holidays, overrides)")] = None,
    start: Annotated[str | None, typer.Option("--start", help="ISO 8601 instant with a UTC offset")] = None,
    minutes: Annotated[str | None, typer.Option("--minutes", help="Target in working minutes")] = None,
    pause: Annotated[list[str] | None, typer.Option(
        "--pause", help="START/END, two ISO 8601 instants; repeat for several pauses")] = None,
) -> None:
    """Print when a clock started at START with a target of N working minutes falls due (ISO 8601, with the
    calendar's UTC offset)."""
    import json
    import tempfile
    from pathlib import Path

    from huoban.sla.calendar import CalendarError
    from huoban.sla.cli import due_command

    if start is None:
        fail("--start: missing (an ISO 8601 instant with a UTC offset)")
    if minutes is None:
        fail("--minutes: missing (a whole number of working minutes)")
    try:
        count = int(minutes.strip())
    except ValueError:
        fail(f"--minutes: {minutes!r} is not a whole number")
    stored = _stored_definition(calendar) if calendar is not None and calendar_file is None else None
    try:
        if stored is None:
            print(due_command(calendar, Path(calendar_file) if calendar_file else None, start, count, pause or []))
            return
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "calendar.json"
            path.write_text(json.dumps(stored, ensure_ascii=False), encoding="utf-8")
            print(due_command(None, path, start, count, pause or []))
    except (CalendarError, ValueError) as exc:
        fail(" ".join(str(exc).split()))


@sla_app.command("import-year")
def sla_import_year(
    calendar: Annotated[str, typer.Option("--calendar", help="Calendar name, e.g. cn-standard")],
    year: Annotated[int, typer.Option("--year", help="The year the file holds")],
    file: Annotated[str, typer.Option("--file", help=".json ({holidays, overrides}) or .xlsx (日期, 类型, 时段)")],
) -> None:
    """Replace one year's holidays and adjusted working days in a calendar (all or nothing); open clocks on
    the calendar are recomputed in the same transaction."""
    import json
    from pathlib import Path

    from pydantic import ValidationError

    from huoban.db import session_scope
    from huoban.sla import excel
    from huoban.sla.schemas import YearImport
    from huoban.sla.service import find_calendar, import_year

    path = Path(file)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".xlsx"):
        fail(f"--file {file}: expected a .json or .xlsx file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        fail(f"--file {file}: cannot read ({exc.strerror or exc})")
    data: YearImport | None = None
    if suffix == ".json":
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            fail(f"--file {file}: not valid JSON ({' '.join(str(exc).split())})")
        if not isinstance(body, dict):
            fail(f"--file {file}: expected a JSON object {{\"holidays\": [...], \"overrides\": {{...}}}}")
        if body.setdefault("year", year) != year:
            fail(f"--file {file}: holds year {body['year']!r}, not {year}")
        try:
            data = YearImport.model_validate(body)
        except ValidationError as exc:
            err = exc.errors()[0]
            fail(f"{'.'.join(str(p) for p in err['loc']) or 'file'}: {err['msg']}")
    else:
        _sla_run(lambda: excel.check_upload(raw, None))

    def go() -> tuple[str, int, dict, int]:
        with session_scope() as session:
            row = find_calendar(session, calendar)
            if row is None:
                fail(f"calendar {calendar!r} not found")
            imported = data if data is not None else excel.read_year(raw, year, row.definition)
            row, recomputed = import_year(session, None, row.id, imported)
            return row.name, row.version, dict(row.definition), recomputed

    name, version, definition, recomputed = _sla_run(go)
    prefix = f"{year:04d}-"
    holidays = sum(d.startswith(prefix) for d in definition.get("holidays", []))
    overrides = sum(d.startswith(prefix) for d in definition.get("overrides", {}))
    console.print(f"imported {year} into {name} (version {version}): {holidays} holidays, {overrides} overrides; "
                  f"{recomputed} open clocks recomputed")


@sla_app.command("recompute")
def sla_recompute(
    calendar: Annotated[str, typer.Option("--calendar", help="Calendar name, e.g. cn-standard")],
) -> None:
    """Recompute the due and escalation times of every open clock on a calendar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from huoban.db import session_scope
    from huoban.models import utcnow
    from huoban.sla.recompute import open_clocks, recompute_calendar
    from huoban.sla.service import find_calendar

    changed = 0

    def go() -> int:
        nonlocal changed
        with session_scope() as session:
            row = find_calendar(session, calendar)
            if row is None:
                fail(f"calendar {calendar!r} not found")
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            with Progress(*columns, console=console) as progress:
                task = progress.add_task(f"clocks on {row.name}", total=open_clocks(session, row.id))

                def advance(done: int, moved: int) -> None:
                    nonlocal changed
                    changed += moved
                    progress.advance(task, done)

                return recompute_calendar(session, row.id, utcnow(), advance)

    count = _sla_run(go)
    console.print(f"recomputed {count} open clocks on {calendar} ({changed} changed)")


@sla_app.command("sweep")
def sla_sweep() -> None:
    """Fire every escalation step that is due, once (the worker does this every sweep interval)."""
    from huoban.sla.sweep import sweep

    console.print(f"fired {_sla_run(sweep)} escalation steps")
