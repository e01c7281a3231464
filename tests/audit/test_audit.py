"""The hash-chained audit log: writes are recorded, only the audit_admin reads them, tampering is caught."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from tests.commands import huoban


def _tamper(url: str, sql: str) -> None:
    """What an attacker with database access would do: get past the append-only trigger, then edit."""
    engine = create_engine(url)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
        conn.execute(text(sql))
    engine.dispose()


def test_audit_log_rejects_update_and_delete(fresh_database_url):
    assert huoban(fresh_database_url, "demo").returncode == 0
    engine = create_engine(fresh_database_url)
    for sql in ("UPDATE audit_log SET action = 'nothing' WHERE id = 1", "DELETE FROM audit_log WHERE id = 1"):
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(text(sql))
    engine.dispose()


def test_verify_passes_untouched_and_names_the_first_changed_row(fresh_database_url):
    assert huoban(fresh_database_url, "demo").returncode == 0
    ok = huoban(fresh_database_url, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "intact" in ok.stdout
    _tamper(fresh_database_url, "UPDATE audit_log SET after = NULL WHERE id = 7")
    bad = huoban(fresh_database_url, "audit", "verify")
    assert bad.returncode != 0
    assert "row 7" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_verify_catches_a_deleted_row_and_a_truncated_tail(fresh_database_url):
    assert huoban(fresh_database_url, "demo").returncode == 0
    _tamper(fresh_database_url, "DELETE FROM audit_log WHERE id = 3")
    bad = huoban(fresh_database_url, "audit", "verify")
    assert bad.returncode != 0 and "row 3" in bad.stderr


def test_verify_catches_removed_last_rows(fresh_database_url):
    assert huoban(fresh_database_url, "demo").returncode == 0
    _tamper(fresh_database_url, "DELETE FROM audit_log WHERE id > 40")
    bad = huoban(fresh_database_url, "audit", "verify")
    assert bad.returncode != 0 and "row 41" in bad.stderr


def test_only_the_audit_admin_reads_the_log(client, world):
    world.call(client, "PATCH", f"/api/v1/orgs/{world.orgs['customer_a'].id}", "operator_admin",
               json={"industry": "healthcare"})
    world.check(client, "GET", "/api/v1/audit", {
        "operator_audit_admin": 200, "operator_admin": 403, "operator_system_admin": 403,
        "operator_security_admin": 403, "customer_a_admin": 403, "partner_a_admin": 403, "anonymous": 401,
    })
    rows = world.call(client, "GET", "/api/v1/audit?action=org.update", "operator_audit_admin").json()["items"]
    assert rows[0]["before"]["industry"] == "government"
    assert rows[0]["after"]["industry"] == "healthcare"
    assert rows[0]["actor_email"] == "operator_admin@world.test"
    check = world.call(client, "GET", "/api/v1/audit/verify", "operator_audit_admin").json()
    assert check["ok"] is True and check["checked"] >= 1


def test_audit_filters_reject_times_without_offset(client, world):
    r = world.call(client, "GET", "/api/v1/audit?since=2026-01-01T00:00:00", "operator_audit_admin")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "since"


def test_audit_page_filters_and_verifies(client, world):
    from tests.pages import sign_in

    world.call(client, "PATCH", f"/api/v1/users/{world.users['customer_a_member'].id}", "customer_a_admin",
               json={"display_name": "新名字"})
    sign_in(client, "operator_audit_admin@world.test")
    page = client.get("/audit?action=user.update&check=1")
    assert page.status_code == 200
    assert "user.update" in page.text and "新名字" in page.text
    assert 'class="alert alert-ok"' in page.text
    client.cookies.clear()
    sign_in(client, "operator_system_admin@world.test")
    assert client.get("/audit").status_code == 403
