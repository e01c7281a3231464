"""The `huoban` commands, run as a user would run them."""

from __future__ import annotations

import httpx

from tests.commands import huoban, live_server


def test_help_documents_every_command(fresh_database_url):
    out = huoban(fresh_database_url, "--help").stdout
    for command in ("init", "serve", "worker", "demo", "db", "orgs", "users", "tokens", "regions", "audit"):
        assert command in out


def test_create_org_user_token_and_use_it(fresh_database_url, tmp_path):
    org = huoban(fresh_database_url, "orgs", "create", "--kind", "customer", "--name", "济南市大数据局",
                 "--region", "370100")
    assert org.returncode == 0, org.stderr
    user = huoban(fresh_database_url, "users", "create", "--org", "济南市大数据局", "--role", "customer_admin",
                  "--email", "admin@jndata.gov.cn", "--password", "Jinan-Data-2026")
    assert user.returncode == 0, user.stderr
    token = huoban(fresh_database_url, "tokens", "create", "--user", "admin@jndata.gov.cn")
    assert token.returncode == 0
    raw = token.stdout.strip()
    assert raw.startswith("hb_") and "\n" not in raw

    with live_server(fresh_database_url) as base:
        me = httpx.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).json()
    assert me["organization"]["name"] == "济南市大数据局"
    assert me["user"]["role"] == "customer_admin"


def test_bad_input_is_one_line_nonzero_and_writes_nothing(fresh_database_url):
    cases = [
        ("orgs", "create", "--kind", "alien", "--name", "X"),
        ("orgs", "create", "--kind", "customer", "--name", "X", "--region", "999999"),
        ("users", "create", "--org", "nowhere", "--role", "customer_admin", "--email", "a@b.cn"),
        ("users", "create", "--org", "X", "--role", "emperor", "--email", "a@b.cn"),
        ("tokens", "create", "--user", "ghost@nowhere.cn"),
    ]
    for args in cases:
        r = huoban(fresh_database_url, *args)
        assert r.returncode != 0, args
        assert len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
        assert "Traceback" not in r.stderr
    verify = huoban(fresh_database_url, "audit", "verify")
    assert "0 rows verified" in verify.stdout


def test_wrong_role_for_org_kind_is_refused(fresh_database_url):
    huoban(fresh_database_url, "orgs", "create", "--kind", "partner", "--name", "某伙伴")
    r = huoban(fresh_database_url, "users", "create", "--org", "某伙伴", "--role", "customer_admin",
               "--email", "x@partner.cn", "--password", "Partner-Pass-1")
    assert r.returncode != 0 and "customer_admin" in r.stderr


def test_demo_is_idempotent(fresh_database_url):
    first = huoban(fresh_database_url, "demo")
    assert first.returncode == 0, first.stderr
    for needle in ("浙江数联系统集成有限公司", "国网山东省电力公司", "audit_admin", "Huoban-demo-2026"):
        assert needle in first.stdout
    rows_after_first = huoban(fresh_database_url, "audit", "verify").stdout
    second = huoban(fresh_database_url, "demo")
    assert second.returncode == 0
    assert huoban(fresh_database_url, "audit", "verify").stdout == rows_after_first
