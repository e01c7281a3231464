"""Importing a year's holidays and adjusted working days (API, Excel, CLI), and `huoban sla due`."""

from __future__ import annotations

import json
from datetime import date
from io import BytesIO

from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from huoban.models import AuditEntry
from tests.commands import huoban
from tests.sla.test_admin_api import DAY, create_calendar

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TWO_YEARS = {
    "timezone": "Asia/Shanghai",
    "week": {"mon": DAY, "tue": DAY, "wed": DAY, "thu": DAY, "fri": DAY, "sat": [], "sun": []},
    "holidays": ["2026-10-01", "2026-10-02", "2027-01-01", "2027-10-01"],
    "overrides": {"2026-10-10": DAY, "2027-02-07": DAY},
}


def calendar(client, world):
    created = create_calendar(client, world, name="two-years", definition=TWO_YEARS)
    assert created.status_code == 201, created.text
    return created.json()


def read(client, world, calendar_id):
    return world.call(client, "GET", f"/api/v1/sla/calendars/{calendar_id}", "operator_admin").json()


def workbook(*rows, header=("日期", "类型", "时段")) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(list(row))
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client, world, calendar_id, data, year=2027, name="2027.xlsx", content_type=XLSX, actor="operator_admin"):
    return world.call(client, "POST", f"/api/v1/sla/calendars/{calendar_id}/import-xlsx", actor,
                      params={"year": year}, files={"file": (name, data, content_type)})


# --- the API ---------------------------------------------------------------------------------------------------


def test_import_replaces_only_that_year(client, world, db):
    cal = calendar(client, world)
    body = {"year": 2027, "holidays": ["2027-02-11", "2027-02-12"],
            "overrides": {"2027-02-20": [["09:00", "12:00"]], "2027-05-01": []}}
    done = world.call(client, "POST", f"/api/v1/sla/calendars/{cal['id']}/import", "operator_admin", json=body)
    assert done.status_code == 200, done.text
    definition = done.json()["definition"]
    assert definition["holidays"] == ["2026-10-01", "2026-10-02", "2027-02-11", "2027-02-12"]
    assert definition["overrides"] == {"2026-10-10": DAY, "2027-02-20": [["09:00", "12:00"]], "2027-05-01": []}
    assert done.json()["version"] == 2 and done.json()["recomputed_clocks"] == 0
    assert read(client, world, cal["id"])["definition"] == definition

    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "calendar.import_year"))
    assert entry.before["year_holidays"] == 2 and entry.after["year_holidays"] == 2
    assert entry.before["year_overrides"] == 1 and entry.after["year_overrides"] == 2

    cleared = world.call(client, "POST", f"/api/v1/sla/calendars/{cal['id']}/import", "operator_admin",
                         json={"year": 2027})
    assert cleared.json()["definition"]["holidays"] == ["2026-10-01", "2026-10-02"]
    assert cleared.json()["definition"]["overrides"] == {"2026-10-10": DAY}


def test_import_refuses_dates_outside_the_year_and_bad_values(client, world):
    cal = calendar(client, world)
    url = f"/api/v1/sla/calendars/{cal['id']}/import"

    def error(body):
        r = world.call(client, "POST", url, "operator_admin", json=body)
        assert r.status_code == 422, r.text
        return r.json()["errors"][0]["field"]

    assert error({"year": 2027, "holidays": ["2027-01-01", "2028-01-01"]}) == "holidays[1]"
    assert error({"year": 2027, "overrides": {"2026-12-31": DAY}}) == "overrides.2026-12-31"
    assert error({"year": 2027, "holidays": ["2027-02-30"]}) == "holidays[0]"
    assert error({"year": 2027, "overrides": {"2027-02-07": [["13:00", "12:00"]]}}) == "overrides.2027-02-07[0]"
    assert error({"year": 2027, "holidays": [], "extra": 1}) == "extra"
    assert error({"holidays": []}) == "year"
    assert read(client, world, cal["id"])["version"] == 1


def test_import_is_idempotent_with_a_key(client, world):
    cal = calendar(client, world)
    url = f"/api/v1/sla/calendars/{cal['id']}/import"
    headers = {"Idempotency-Key": "import-2027"}
    first = world.call(client, "POST", url, "operator_admin", json={"year": 2027}, headers=headers)
    again = world.call(client, "POST", url, "operator_admin", json={"year": 2027}, headers=headers)
    assert first.json()["version"] == again.json()["version"] == 2
    assert again.headers["Idempotent-Replay"] == "true"


# --- Excel -----------------------------------------------------------------------------------------------------


def test_xlsx_import_with_chinese_and_english_values(client, world):
    cal = calendar(client, world)
    data = workbook(
        (date(2027, 2, 11), "休", None),
        ("2027-02-12", "holiday", ""),
        ("2027/02/20", "班", None),
        (date(2027, 2, 21), "workday", "09:00-12:00, 13:30-17:00"),
        (None, None, None),
    )
    done = upload(client, world, cal["id"], data)
    assert done.status_code == 200, done.text
    definition = done.json()["definition"]
    assert definition["holidays"] == ["2026-10-01", "2026-10-02", "2027-02-11", "2027-02-12"]
    assert definition["overrides"] == {"2026-10-10": DAY, "2027-02-20": DAY,
                                       "2027-02-21": [["09:00", "12:00"], ["13:30", "17:00"]]}


def test_xlsx_with_bad_rows_lists_every_row_and_changes_nothing(client, world):
    cal = calendar(client, world)
    data = workbook(
        (date(2027, 2, 11), "休", None),
        ("2027-02-30", "休", None),  # row 3: no such date
        (date(2027, 2, 20), "班", "09:00-12:00,11:00-18:00"),  # row 4: overlapping
        (date(2027, 2, 11), "班", None),  # row 5: twice
        (date(2028, 1, 1), "休", None),  # row 6: another year
        (date(2027, 3, 1), "上班", None),  # row 7: unknown type
        (date(2027, 3, 2), "休", "09:00-12:00"),  # row 8: a holiday with hours
        (date(2027, 3, 3), "班", "nine to five"),  # row 9
    )
    r = upload(client, world, cal["id"], data)
    assert r.status_code == 422, r.text
    assert [e["row"] for e in r.json()["errors"]] == [3, 4, 5, 6, 7, 8, 9]
    assert "row 5: 2027-02-11 is already on row 2" in r.json()["detail"]
    assert "intervals overlap" in r.json()["detail"]
    after = read(client, world, cal["id"])
    assert after["version"] == 1 and after["definition"] == TWO_YEARS


def test_xlsx_upload_is_size_and_type_checked(client, world):
    cal = calendar(client, world)
    not_zip = upload(client, world, cal["id"], b"date,type\n2027-01-01,holiday\n", name="x.csv",
                     content_type="text/csv")
    assert not_zip.status_code == 422 and not_zip.json()["errors"][0]["field"] == "file"
    fake = upload(client, world, cal["id"], b"PK\x03\x04 but not a workbook")
    assert fake.status_code == 422 and "readable" in fake.json()["detail"]
    huge = upload(client, world, cal["id"], b"PK\x03\x04" + b"0" * (1024 * 1024))
    assert huge.status_code in (413, 422)
    no_header = upload(client, world, cal["id"], workbook((date(2027, 1, 1), "休"), header=("when", "what")))
    assert no_header.status_code == 422 and no_header.json()["errors"][0]["row"] == 1
    assert read(client, world, cal["id"])["version"] == 1


def test_template_round_trip(client, world):
    cal = calendar(client, world)
    got = world.call(client, "GET", f"/api/v1/sla/calendars/{cal['id']}/import-template.xlsx", "operator_admin",
                     params={"year": 2027})
    assert got.status_code == 200 and got.headers["content-type"] == XLSX
    sheet = load_workbook(BytesIO(got.content)).worksheets[0]
    rows = [tuple(c.value for c in row) for row in sheet.iter_rows(min_row=2)]
    assert [(r[0].date().isoformat(), r[1]) for r in rows] == [("2027-01-01", "休"), ("2027-02-07", "班"),
                                                              ("2027-10-01", "休")]
    # the template re-imports as is: same definition, so no new version
    same = upload(client, world, cal["id"], got.content)
    assert same.status_code == 200, same.text
    assert same.json()["definition"] == TWO_YEARS and same.json()["version"] == 1
    # an empty year gets examples that import too
    example = world.call(client, "GET", f"/api/v1/sla/calendars/{cal['id']}/import-template.xlsx",
                         "operator_admin", params={"year": 2030})
    assert upload(client, world, cal["id"], example.content, year=2030).status_code == 200


# --- the CLI ---------------------------------------------------------------------------------------------------


def test_cli_due_on_builtin_and_file(fresh_database_url, tmp_path):
    # cn-standard: 17:00 on the last working day before National Day, 2 working hours → the day after the week off
    r = huoban(fresh_database_url, "sla", "due", "--calendar", "cn-standard", "--start", "2026-09-30T17:00:00+08:00",
               "--minutes", "120")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "2026-10-08T10:00:00+08:00"
    # 2026-10-10 (Saturday) is an adjusted working day in 2026
    r = huoban(fresh_database_url, "sla", "due", "--calendar", "cn-standard", "--start", "2026-10-09T17:00:00+08:00",
               "--minutes", "120")
    assert r.stdout.strip() == "2026-10-10T10:00:00+08:00"

    file = tmp_path / "cal.json"
    file.write_text(json.dumps(TWO_YEARS), encoding="utf-8")
    pause = "2026-10-05T09:00:00+08:00/2026-10-05T09:30:00+08:00"
    r = huoban(fresh_database_url, "sla", "due", "--calendar-file", str(file), "--start", "2026-09-30T17:00:00+08:00",
               "--minutes", "120", "--pause", pause)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "2026-10-05T10:30:00+08:00"


def test_cli_due_works_without_a_database(tmp_path):
    missing = tmp_path / "nowhere" / "huoban.db"
    r = huoban(f"sqlite:///{missing}", "sla", "due", "--calendar", "24x7", "--start", "2026-10-01T00:00:00Z",
               "--minutes", "90")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "2026-10-01T09:30:00+08:00"
    assert not missing.exists()


def test_cli_due_bad_input_is_one_line_exit_1(fresh_database_url, tmp_path):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json", encoding="utf-8")
    overlapping = tmp_path / "overlap.json"
    overlapping.write_text(json.dumps({**TWO_YEARS, "week": {**TWO_YEARS["week"],
                                                             "mon": [["09:00", "13:00"], ["12:00", "18:00"]]}}))
    start = ("--start", "2026-10-09T09:00:00+08:00")
    cases = [
        (("--calendar", "mars-standard", *start, "--minutes", "60"), "unknown calendar 'mars-standard'"),
        (("--calendar-file", str(bad_json), *start, "--minutes", "60"), "not valid JSON"),
        (("--calendar-file", str(overlapping), *start, "--minutes", "60"), "week.mon[1]: intervals overlap"),
        (("--calendar-file", str(tmp_path / "none.json"), *start, "--minutes", "60"), "cannot read"),
        (("--calendar", "24x7", *start, "--minutes", "-5"), "--minutes: -5 is negative"),
        (("--calendar", "24x7", *start, "--minutes", "five"), "--minutes: 'five' is not a whole number"),
        (("--calendar", "24x7", "--start", "2026-10-09T09:00:00", "--minutes", "60"), "has no UTC offset"),
        (("--calendar", "24x7", "--start", "tomorrow", "--minutes", "60"), "is not an ISO 8601"),
        (("--calendar", "24x7", *start, "--minutes", "60", "--pause", "2026-10-09T10:00:00+08:00"), "START/END"),
        ((*start, "--minutes", "60"), "give exactly one of --calendar NAME and --calendar-file FILE"),
        (("--calendar", "24x7", "--calendar-file", str(bad_json), *start, "--minutes", "60"), "exactly one"),
        (("--calendar", "24x7", "--minutes", "60"), "--start"),
    ]
    for args, reason in cases:
        r = huoban(fresh_database_url, "sla", "due", *args)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and reason in lines[0], (args, r.stderr)
        assert r.stdout == ""


def test_cli_import_year_then_due_prefers_the_stored_calendar(fresh_database_url, tmp_path):
    start = ("--start", "2026-09-30T17:00:00+08:00", "--minutes", "120")
    # an operator closes Thursday 8 October too (made up): cn-standard in the database now differs from the package
    current = huoban(fresh_database_url, "sla", "due", "--calendar", "cn-standard", *start).stdout.strip()
    assert current == "2026-10-08T10:00:00+08:00"
    holidays = ["2026-01-01", "2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05", "2026-10-06",
                "2026-10-07", "2026-10-08"]
    file = tmp_path / "2026.json"
    file.write_text(json.dumps({"holidays": holidays, "overrides": {"2026-10-10": DAY}}), encoding="utf-8")
    r = huoban(fresh_database_url, "sla", "import-year", "--calendar", "cn-standard", "--year", "2026",
               "--file", str(file))
    assert r.returncode == 0, r.stderr
    assert "9 holidays, 1 overrides" in r.stdout and "0 open clocks recomputed" in r.stdout
    r = huoban(fresh_database_url, "sla", "due", "--calendar", "cn-standard", *start)
    assert r.stdout.strip() == "2026-10-09T10:00:00+08:00", r.stderr


def test_cli_import_year_errors_write_nothing(fresh_database_url, tmp_path):
    sheet = tmp_path / "2027.xlsx"
    sheet.write_bytes(workbook((date(2027, 1, 1), "休", None), ("2027-02-30", "休", None), (date(2027, 2, 7), "x")))
    wrong_year = tmp_path / "2028.json"
    wrong_year.write_text(json.dumps({"year": 2028, "holidays": []}))
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"holidays": ["2028-01-01"]}))
    cases = [
        (("--calendar", "cn-standard", "--year", "2027", "--file", str(sheet)), "row 3:"),
        (("--calendar", "cn-standard", "--year", "2027", "--file", str(wrong_year)), "holds year 2028"),
        (("--calendar", "cn-standard", "--year", "2027", "--file", str(outside)), "holidays[0]: 2028-01-01"),
        (("--calendar", "nowhere", "--year", "2027", "--file", str(outside)), "calendar 'nowhere' not found"),
        (("--calendar", "cn-standard", "--year", "2027", "--file", str(tmp_path / "a.txt")), ".json or .xlsx"),
    ]
    for args, reason in cases:
        r = huoban(fresh_database_url, "sla", "import-year", *args)
        assert r.returncode == 1, (args, r.stdout)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and reason in lines[0], (args, r.stderr)
    assert "row 4:" in huoban(fresh_database_url, "sla", "import-year", *cases[0][0]).stderr
    assert "0 rows verified" in huoban(fresh_database_url, "audit", "verify").stdout
