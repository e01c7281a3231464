"""Organizations, users and tokens through the JSON API, including scoping and bad input."""

from __future__ import annotations

from sqlalchemy import func, select

from huoban.models import AuditEntry, Organization, User


def count(db, model):  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count()).select_from(model))


def test_me_returns_the_caller_and_organization(client, world):
    body = world.call(client, "GET", "/api/v1/me", "customer_a_member").json()
    assert body["user"]["email"] == "customer_a_member@world.test"
    assert body["organization"]["name"] == "甲客户"


def test_anonymous_and_bad_tokens_get_401(client, world):
    assert client.get("/api/v1/me").status_code == 401
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer hb_not-a-token"})
    assert bad.status_code == 401
    assert bad.json()["code"] == "unauthorized"


def test_org_list_is_scoped_to_the_callers_organization(client, world):
    names = lambda actor: {o["name"] for o in world.call(client, "GET", "/api/v1/orgs", actor).json()["items"]}  # noqa: E731
    assert names("customer_a_admin") == {"甲客户"}
    assert names("partner_b_admin") == {"乙伙伴"}
    assert {"甲客户", "乙客户", "甲伙伴", "乙伙伴", "测试运营方"} <= names("operator_agent")


def test_org_and_user_endpoints_follow_the_permission_matrix(client, world):
    a = world.orgs["customer_a"].id
    world.check(client, "GET", f"/api/v1/orgs/{a}", {
        "anonymous": 401, "customer_a_member": 200, "customer_b_admin": 404, "partner_a_admin": 404,
        "operator_agent": 200,
    })
    member = world.users["customer_a_member"].id
    world.check(client, "GET", f"/api/v1/users/{member}", {
        "anonymous": 401, "customer_a_admin": 200, "customer_b_admin": 404, "partner_b_admin": 404,
        "operator_admin": 200,
    })
    world.check(client, "PATCH", f"/api/v1/users/{member}", {
        "customer_b_admin": 404, "partner_a_admin": 404, "operator_audit_admin": 403, "operator_agent": 403,
    }, json={"display_name": "改名"})
    world.check(client, "PATCH", f"/api/v1/orgs/{a}", {
        "customer_a_admin": 403, "customer_b_admin": 404, "operator_agent": 403,
    }, json={"industry": "energy"})


def test_operator_admin_creates_org_and_user_and_both_are_audited(client, world, db):
    before = count(db, AuditEntry)
    created = world.call(client, "POST", "/api/v1/orgs", "operator_system_admin", json={
        "kind": "partner", "name": "宁波海曙智联科技有限公司", "industry": "integration", "region_code": "330203",
    })
    assert created.status_code == 201, created.text
    org_id = created.json()["id"]
    user = world.call(client, "POST", "/api/v1/users", "operator_system_admin", json={
        "org_id": org_id, "email": "Wang.Lei@Zhilian.example", "display_name": "王磊", "role": "partner_engineer",
    })
    assert user.status_code == 201, user.text
    assert user.json()["email"] == "wang.lei@zhilian.example"
    assert len(user.json()["initial_password"]) >= 12
    actions = db.scalars(select(AuditEntry.action).where(AuditEntry.id > before).order_by(AuditEntry.id)).all()
    assert actions == ["org.create", "user.create"]


def test_customer_admin_manages_only_its_own_users_and_roles(client, world):
    own = world.orgs["customer_a"].id
    ok = world.call(client, "POST", "/api/v1/users", "customer_a_admin", json={
        "org_id": own, "email": "li.na@customer-a.example", "display_name": "李娜", "role": "customer_member",
        "password": "Strong-Pass-2026",
    })
    assert ok.status_code == 201
    wrong_role = world.call(client, "POST", "/api/v1/users", "customer_a_admin", json={
        "org_id": own, "email": "x@customer-a.example", "display_name": "X", "role": "agent",
        "password": "Strong-Pass-2026",
    })
    assert wrong_role.status_code == 422
    assert wrong_role.json()["errors"][0]["field"] == "role"
    other = world.call(client, "POST", "/api/v1/users", "customer_a_admin", json={
        "org_id": world.orgs["customer_b"].id, "email": "y@customer-b.example", "display_name": "Y",
        "role": "customer_member", "password": "Strong-Pass-2026",
    })
    assert other.status_code == 404


def test_bad_input_gives_4xx_naming_the_field_and_writes_nothing(client, world, db):
    orgs, users, audit = count(db, Organization), count(db, User), count(db, AuditEntry)
    cases = [
        ({"kind": "customer", "name": "新客户", "region_code": "999999"}, "region_code", 422),
        ({"kind": "customer", "name": "新客户", "colour": "red"}, "colour", 422),
        ({"kind": "alien", "name": "新客户"}, "kind", 422),
        ({"kind": "customer", "name": "甲客户"}, "name", 409),
        ({"kind": "customer"}, "name", 422),
    ]
    for body, field, status in cases:
        r = world.call(client, "POST", "/api/v1/orgs", "operator_admin", json=body)
        assert r.status_code == status, (body, r.text)
        assert field in {e["field"] for e in r.json()["errors"]}, r.json()
    role = world.call(client, "POST", "/api/v1/users", "operator_admin", json={
        "org_id": world.orgs["customer_a"].id, "email": "z@example.com", "display_name": "Z", "role": "emperor",
    })
    assert role.status_code == 422 and role.json()["errors"][0]["field"] == "role"
    weak = world.call(client, "POST", "/api/v1/users", "operator_admin", json={
        "org_id": world.orgs["customer_a"].id, "email": "z@example.com", "display_name": "Z",
        "role": "customer_member", "password": "short",
    })
    assert weak.status_code == 422 and weak.json()["errors"][0]["field"] == "password"
    malformed = client.post("/api/v1/orgs", content=b'{"kind": "customer", "name": ',
                            headers={**world.headers("operator_admin"), "Content-Type": "application/json"})
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["message"].startswith("malformed JSON")
    huge = client.post("/api/v1/orgs", content=b'{"name": "' + b"x" * 2_000_000 + b'"}',
                       headers={**world.headers("operator_admin"), "Content-Type": "application/json"})
    assert huge.status_code == 413
    assert huge.json()["errors"][0]["field"] == "body"
    assert (count(db, Organization), count(db, User), count(db, AuditEntry)) == (orgs, users, audit)


def test_idempotency_key_replays_the_first_answer(client, world, db):
    body = {"kind": "customer", "name": "杭州市交通运输局", "industry": "transport", "region_code": "330100"}
    headers = {"Idempotency-Key": "create-hz-transport"}
    first = world.call(client, "POST", "/api/v1/orgs", "operator_admin", json=body, headers=headers)
    again = world.call(client, "POST", "/api/v1/orgs", "operator_admin", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["Idempotent-Replay"] == "true"
    assert db.scalar(select(func.count()).where(Organization.name == "杭州市交通运输局")) == 1
    changed = world.call(client, "POST", "/api/v1/orgs", "operator_admin", json={**body, "name": "别的"},
                         headers=headers)
    assert changed.status_code == 409


def test_tokens_are_shown_once_stored_hashed_and_revocable(client, world, db):
    created = world.call(client, "POST", "/api/v1/tokens", "partner_a_engineer", json={"name": "ci"})
    assert created.status_code == 201
    raw = created.json()["token"]
    assert raw.startswith("hb_")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    listed = world.call(client, "GET", "/api/v1/tokens", "partner_a_engineer").json()
    assert all("token" not in t for t in listed)
    from huoban.models import ApiToken

    assert db.scalar(select(func.count()).where(ApiToken.token_hash == raw)) == 0
    token_id = created.json()["id"]
    world.check(client, "DELETE", f"/api/v1/tokens/{token_id}", {"partner_b_admin": 404, "customer_a_admin": 404})
    assert world.call(client, "DELETE", f"/api/v1/tokens/{token_id}", "partner_a_engineer").status_code == 200
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_deactivated_user_loses_api_access(client, world):
    member = world.users["customer_a_member"].id
    r = world.call(client, "PATCH", f"/api/v1/users/{member}", "customer_a_admin", json={"is_active": False})
    assert r.status_code == 200
    assert world.call(client, "GET", "/api/v1/me", "customer_a_member").status_code == 401


def test_healthz_reports_database(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["database"] == "ok"
