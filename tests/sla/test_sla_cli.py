"""`huoban sla due`, run as a user would run it: the due instant on stdout, or one line on stderr and exit 1."""

from __future__ import annotations

import json

import pytest

from huoban.cli import app as cli_app
from tests.commands import huoban

if "sla" not in [group.name for group in cli_app.registered_groups]:
    pytest.skip("`huoban sla` is not wired into the CLI yet", allow_module_level=True)

CALENDAR = {
    "timezone": "Asia/Shanghai",
    "week": {day: [["09:00", "12:00"], ["13:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    | {"sat": [], "sun": []},
    "holidays": ["2026-10-01"],
    "overrides": {"2026-10-10": [["09:00", "12:00"], ["13:00", "18:00"]]},
}


@pytest.fixture
def no_database(tmp_path) -> str:
    """`sla due` needs no database: a URL of a file that does not exist."""
    return f"sqlite:///{tmp_path / 'absent.db'}"


def test_due_on_cn_standard_across_national_day(fresh_database_url):
    result = huoban(fresh_database_url, "sla", "due", "--calendar", "cn-standard",
                    "--start", "2026-09-30T17:00:00+08:00", "--minutes", "180")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2026-10-08T11:00:00+08:00"  # 1 h on 30 Sep, 1-7 Oct closed


def test_due_without_a_database_with_a_file_and_pauses(no_database, tmp_path):
    file = tmp_path / "calendar.json"
    file.write_text(json.dumps(CALENDAR), encoding="utf-8")
    plain = huoban(no_database, "sla", "due", "--calendar-file", str(file), "--start", "2026-10-09T09:00:00+08:00",
                   "--minutes", "60")
    assert (plain.returncode, plain.stdout.strip()) == (0, "2026-10-09T10:00:00+08:00"), plain.stderr
    paused = huoban(no_database, "sla", "due", "--calendar-file", str(file), "--start", "2026-10-09T16:00:00Z",
                    "--minutes", "120", "--pause", "2026-10-10T09:00:00+08:00/2026-10-10T10:00:00+08:00",
                    "--pause", "2026-10-10T09:30:00+08:00/2026-10-10T10:30:00+08:00")
    # Saturday 10 Oct is an override; the pauses merge to 09:00-10:30, so 10:30-12:00 and 13:00-13:30.
    assert (paused.returncode, paused.stdout.strip()) == (0, "2026-10-10T13:30:00+08:00"), paused.stderr
    builtin = huoban(no_database, "sla", "due", "--calendar", "24x7", "--start", "2026-10-01T23:00:00+08:00",
                     "--minutes", "90")
    assert (builtin.returncode, builtin.stdout.strip()) == (0, "2026-10-02T00:30:00+08:00"), builtin.stderr


def test_bad_input_is_one_line_on_stderr_and_exit_1(no_database, tmp_path):
    overlapping = tmp_path / "overlap.json"
    overlapping.write_text(json.dumps({**CALENDAR, "week": {**CALENDAR["week"], "mon": [["09:00", "12:00"],
                                                                                        ["11:00", "18:00"]]}}))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    start = ("--start", "2026-10-09T09:00:00+08:00")
    cases = [
        (("--calendar", "cn-strict", *start, "--minutes", "60"), "unknown calendar 'cn-strict'"),
        ((*start, "--minutes", "60"), "give exactly one of --calendar NAME and --calendar-file FILE"),
        (("--calendar", "24x7", "--calendar-file", str(broken), *start, "--minutes", "60"), "give exactly one of"),
        (("--calendar-file", str(broken), *start, "--minutes", "60"), "not valid JSON"),
        (("--calendar-file", str(overlapping), *start, "--minutes", "60"), "week.mon[1]: intervals overlap"),
        (("--calendar", "24x7", *start, "--minutes", "-5"), "--minutes: -5 is negative"),
        (("--calendar", "24x7", "--start", "2026-10-09T09:00:00", "--minutes", "60"), "has no UTC offset"),
        (("--calendar", "24x7", *start, "--minutes", "60", "--pause", "2026-10-09T09:00:00+08:00"),
         "is not START/END"),
        (("--calendar", "24x7", *start, "--minutes", "60", "--pause",
          "2026-10-09T10:00:00+08:00/2026-10-09T09:00:00+08:00"), "ends before it starts"),
    ]
    for args, message in cases:
        result = huoban(no_database, "sla", "due", *args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (args, result.stderr)
