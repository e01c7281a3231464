"""SLA due-time benchmark: Huoban's calendar engine against the `businesstimedelta` package.

Both sides get the same calendar: Monday-Friday 09:00-18:00 in Asia/Shanghai with a 12:00-13:00 break
and China's statutory holidays that fall on weekdays (from `chinesecalendar`), no adjusted working
weekends (businesstimedelta cannot open a Saturday). 100,000 random (start, target minutes) cases with a
fixed seed; Huoban computes all of them, the baseline a random 5,000, timed in the same process.

Results are compared exactly. The only tolerated difference would be two instants with no working time
between them (the same moment of working time, e.g. 12:00 and 13:00); businesstimedelta returns the
earliest instant (`period_start + td_left` when `period_delta >= td_left`), as Huoban does, so in
practice every result is identical.

Part 2 (recomputing stored ticket clocks on PostgreSQL) runs when HUOBAN_BENCH_DATABASE_URL is set;
see `recompute_benchmark`. The last line of output is one JSON object with the figures.

    .venv/bin/python benchmarks/sla_bench.py
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from huoban.sla.calendar import WorkCalendar, add_working_time, working_seconds

CASES = 100_000
BASELINE_CASES = 5_000
SEED = 20260925
ZONE = "Asia/Shanghai"
FIRST_START = date(2025, 1, 1)
LAST_START = date(2026, 9, 1)  # the baseline needs a known holiday ahead of every case (see _baseline_rules)
MAX_MINUTES = 5 * 8 * 60  # five working days


def holiday_dates() -> list[date]:
    """China's statutory holidays on weekdays, for every year in the window (and as far as chinesecalendar knows)."""
    from chinese_calendar import constants

    return sorted(d for d in constants.holidays if d.year >= FIRST_START.year and d.weekday() < 5)


def huoban_calendar(holidays: list[date]) -> WorkCalendar:
    day = ((9 * 60, 12 * 60), (13 * 60, 18 * 60))
    return WorkCalendar(timezone=ZONE, week=(day,) * 5 + ((), ()), holidays=frozenset(holidays))


def _baseline_rules(holidays: list[date]):  # type: ignore[no-untyped-def]
    import businesstimedelta
    import pytz

    tz = pytz.timezone(ZONE)
    workday = businesstimedelta.WorkDayRule(start_time=datetime.min.time().replace(hour=9),
                                            end_time=datetime.min.time().replace(hour=18),
                                            working_days=[0, 1, 2, 3, 4], tz=tz)
    lunch = businesstimedelta.LunchTimeRule(start_time=datetime.min.time().replace(hour=12),
                                            end_time=datetime.min.time().replace(hour=13),
                                            working_days=[0, 1, 2, 3, 4], tz=tz)
    # A set, not a list: HolidayRule scans day by day with `date in holidays`, so this favours the baseline.
    # Its next_holiday() returns None (and the rule fails) when no holiday lies ahead within five years,
    # hence LAST_START well before the last holiday chinesecalendar knows.
    holiday = businesstimedelta.HolidayRule(set(holidays), tz=tz)
    return businesstimedelta.Rules([workday, lunch, holiday])


def make_cases(n: int, seed: int) -> list[tuple[datetime, int]]:
    rng = random.Random(seed)
    zone = ZoneInfo(ZONE)
    first = datetime(FIRST_START.year, FIRST_START.month, FIRST_START.day, tzinfo=zone)
    seconds = int((datetime(LAST_START.year, LAST_START.month, LAST_START.day, tzinfo=zone) - first).total_seconds())
    cases = []
    for _ in range(n):
        # Half on whole minutes (tickets from forms), half to the second; targets of 1 minute to 5 days.
        offset = rng.randrange(0, seconds, 60 if rng.random() < 0.5 else 1)
        cases.append(((first + timedelta(seconds=offset)), rng.randint(1, MAX_MINUTES)))
    return cases


def recompute_benchmark(database_url: str) -> dict | None:
    """Part 2: recompute 100,000 stored ticket clocks on PostgreSQL after a calendar edit; returns its figures.

    A scratch database (dropped at the end), migrated, with 100,000 open tickets on cn-standard (random starts
    in 2026, mixed priorities, a third with the 50 % step fired, 5 % paused), then an edit that moves nearly
    every due time (weekday afternoons end at 17:30, not 18:00) and `recompute_calendar` timed to its commit.
    """
    import secrets

    from sqlalchemy import create_engine, select, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.orm import Session

    from huoban.db import make_engine
    from huoban.migrate import upgrade
    from huoban.models import Calendar, utcnow
    from huoban.sla.builtin import get_builtin
    from huoban.sla.recompute import recompute_calendar

    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        print(f"recompute: {url.get_backend_name()} is not PostgreSQL, skipped", file=sys.stderr)
        return None
    clocks = 100_000
    name = f"huoban_bench_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    scratch = url.set(database=name).render_as_string(hide_password=False)
    engine = None
    try:
        upgrade(scratch)
        engine = make_engine(scratch)
        rng = random.Random(SEED + 2)
        cal = get_builtin("cn-standard")
        zone = ZoneInfo(ZONE)
        first = datetime(2026, 1, 1, tzinfo=zone)
        seconds = int((datetime(2027, 1, 1, tzinfo=zone) - first).total_seconds())
        minutes = {"P1": 480, "P2": 960, "P3": 2400, "P4": 4800}
        began = time.perf_counter()
        raw = engine.raw_connection()
        try:
            conn = raw.driver_connection
            with conn.cursor() as cur:
                cur.execute("INSERT INTO organizations (kind, name, is_active) VALUES ('customer', 'bench', true) "
                            "RETURNING id")
                org_id = cur.fetchone()[0]
                cur.execute("INSERT INTO users (org_id, email, display_name, role, is_active, failed_logins) "
                            "VALUES (%s, 'bench@bench.test', 'bench', 'customer_member', true, 0) RETURNING id",
                            (org_id,))
                user_id = cur.fetchone()[0]
                rows = []
                for n in range(1, clocks + 1):
                    start = first + timedelta(seconds=rng.randrange(seconds))
                    priority = rng.choice(("P1", "P2", "P2", "P3", "P3", "P4"))
                    rows.append((n, start, priority, rng.random() < 1 / 3, rng.random() < 0.05))
                with cur.copy("COPY tickets (id, customer_org_id, raised_by_id, created_by_id, channel, title, "
                              "description, category, priority, status, on_site_required, sla_policy_id, "
                              "reopened_count, updated_at, created_at) FROM STDIN") as copy:
                    for n, start, priority, _, paused in rows:
                        copy.write_row((n, org_id, user_id, user_id, "api", f"bench {n}", "-", "incident", priority,
                                        "waiting_customer" if paused else "in_progress", False, 1, 0, start, start))
                with cur.copy("COPY sla_clocks (id, ticket_id, metric, cycle, calendar_id, target_seconds, "
                              "started_at, pauses, paused_since, due_at, next_escalation_at, "
                              "next_escalation_percent) FROM STDIN") as copy:
                    for n, start, priority, fired, paused in rows:
                        target = minutes[priority] * 60
                        step = 80 if fired else 50
                        copy.write_row((n, n, "resolution", 1, 2, target, start, "[]",
                                        start + timedelta(hours=1) if paused else None,
                                        add_working_time(cal, start, target),
                                        None if paused else add_working_time(cal, start, target * step // 100),
                                        None if paused else step))
                with cur.copy("COPY sla_escalations (clock_id, percent, fired_at, notified) FROM STDIN") as copy:
                    for n, start, _, fired, _ in rows:
                        if fired:
                            copy.write_row((n, 50, start, "[]"))
                cur.execute("SELECT setval(pg_get_serial_sequence('tickets', 'id'), %s)", (clocks,))
                cur.execute("SELECT setval(pg_get_serial_sequence('sla_clocks', 'id'), %s)", (clocks,))
            conn.commit()
        finally:
            raw.close()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        loaded = time.perf_counter() - began

        changed = 0

        def count(done: int, moved: int) -> None:
            nonlocal changed
            changed += moved

        with Session(engine) as session:
            row = session.scalar(select(Calendar).where(Calendar.name == "cn-standard"))
            shorter = [["09:00", "12:00"], ["13:00", "17:30"]]
            row.definition = {**row.definition, "week": {**row.definition["week"],
                                                         **{d: shorter for d in ("mon", "tue", "wed", "thu", "fri")}}}
            row.version += 1
            session.flush()
            began = time.perf_counter()
            recomputed = recompute_calendar(session, row.id, utcnow(), count)
            computed = time.perf_counter() - began
            session.commit()
            elapsed = time.perf_counter() - began
        print(f"recompute: {recomputed:,} open clocks on cn-standard ({changed:,} changed) in {elapsed:.2f} s "
              f"({computed:.2f} s before the commit; loading took {loaded:.1f} s)")
        return {"recompute_100k_s": round(elapsed, 3), "recompute_clocks": recomputed, "recompute_changed": changed}
    finally:
        if engine is not None:
            engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> int:
    holidays = holiday_dates()
    cases = make_cases(CASES, SEED)
    sample = sorted(random.Random(SEED + 1).sample(range(CASES), BASELINE_CASES))

    calendar = huoban_calendar(holidays)  # the span index is built lazily, inside the timed loop
    began = time.perf_counter()
    results = [add_working_time(calendar, start, minutes * 60) for start, minutes in cases]
    huoban_seconds = time.perf_counter() - began

    import businesstimedelta

    rules = _baseline_rules(holidays)
    baseline_inputs = [cases[i] for i in sample]
    began = time.perf_counter()
    expected = [start + businesstimedelta.BusinessTimeDelta(rules, seconds=minutes * 60)
                for start, minutes in baseline_inputs]
    baseline_seconds = time.perf_counter() - began

    identical = equivalent = 0
    mismatches: list[tuple[datetime, int, datetime, datetime]] = []
    for i, theirs in zip(sample, expected, strict=True):
        ours = results[i]
        if ours == theirs:
            identical += 1
        elif working_seconds(calendar, min(ours, theirs), max(ours, theirs)) == 0:
            equivalent += 1
        else:
            mismatches.append((cases[i][0], cases[i][1], ours, theirs))

    huoban_per_s = CASES / huoban_seconds
    baseline_per_s = BASELINE_CASES / baseline_seconds
    figures: dict[str, object] = {
        "cases": CASES,
        "baseline_cases": BASELINE_CASES,
        "huoban_seconds": round(huoban_seconds, 4),
        "baseline_seconds": round(baseline_seconds, 4),
        "huoban_per_s": round(huoban_per_s),
        "baseline_per_s": round(baseline_per_s, 1),
        "ratio": round(huoban_per_s / baseline_per_s, 1),
        "identical": identical,
        "equivalent": equivalent,
        "mismatches": len(mismatches),
        "holidays": len(holidays),
    }
    database_url = os.environ.get("HUOBAN_BENCH_DATABASE_URL")
    if database_url:
        figures.update(recompute_benchmark(database_url) or {})

    print(f"SLA due times, Mon-Fri 09:00-18:00 with lunch, {len(holidays)} holidays, {ZONE}")
    print(f"  huoban            {CASES:>7,} cases in {huoban_seconds:8.3f} s  {huoban_per_s:>12,.0f} /s")
    print(f"  businesstimedelta {BASELINE_CASES:>7,} cases in {baseline_seconds:8.3f} s  {baseline_per_s:>12,.1f} /s")
    print(f"  ratio {huoban_per_s / baseline_per_s:,.1f}x; {identical} identical, {equivalent} equivalent, "
          f"{len(mismatches)} mismatches")
    for start, minutes, ours, theirs in mismatches[:5]:
        print(f"  mismatch: start {start.isoformat()} +{minutes} min: huoban {ours.isoformat()}, "
              f"baseline {theirs.isoformat()}")
    print(json.dumps(figures))
    return 0 if not mismatches else 1


if __name__ == "__main__":
    sys.exit(main())
