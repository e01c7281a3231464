"""Calendars and SLA policies through the API: CRUD, validation errors that name the field, defaults,
audit, and the permission matrix (operators read, admins write, customers only the policy that applies)."""

from __future__ import annotations

import copy

from sqlalchemy import select

from huoban.models import AuditEntry

DAY = [["09:00", "12:00"], ["13:00", "18:00"]]
DEFINITION = {
    "timezone": "Asia/Shanghai",
    "week": {"mon": DAY, "tue": DAY, "wed": DAY, "thu": DAY, "fri": DAY, "sat": [], "sun": []},
    "holidays": ["2026-10-01"],
    "overrides": {"2026-10-10": DAY},
}
TARGETS = {"P1": {"first_response": 20, "resolution": 240, "on_site": 120}, "P2": {"resolution": 480}}
ESCALATIONS = [{"percent": 50, "notify": ["assignee"]}, {"percent": 100, "notify": ["service_manager"]}]


def create_calendar(client, world, name="宁波政务", definition=None, actor="operator_admin"):
    body = {"name": name, "description": "Ningbo", "definition": definition or DEFINITION}
    return world.call(client, "POST", "/api/v1/sla/calendars", actor, json=body)


def create_policy(client, world, actor="operator_admin", headers=None, **fields):
    body = {"name": "甲客户金牌", "calendar_id": 2, "targets": TARGETS, "escalations": ESCALATIONS, **fields}
    return world.call(client, "POST", "/api/v1/sla/policies", actor, json=body, headers=headers or {})


def audit(db, action):
    return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


# --- calendars ---------------------------------------------------------------------------------------------


def test_calendar_create_read_list_update_is_versioned_and_audited(client, world, db):
    created = create_calendar(client, world)
    assert created.status_code == 201, created.text
    cal = created.json()
    assert cal["version"] == 1 and cal["builtin"] is False
    assert cal["definition"] == DEFINITION
    assert (cal["holidays"], cal["overrides"], cal["years"]) == (1, 1, [2026])

    got = world.call(client, "GET", f"/api/v1/sla/calendars/{cal['id']}", "operator_agent").json()
    assert got["definition"] == DEFINITION
    listed = world.call(client, "GET", "/api/v1/sla/calendars", "operator_agent").json()
    assert [c["name"] for c in listed["items"]] == ["24x7", "cn-standard", "宁波政务"]
    assert "definition" not in listed["items"][0]

    changed = copy.deepcopy(DEFINITION)
    changed["week"]["sat"] = [["09:00", "12:00"]]
    patched = world.call(client, "PATCH", f"/api/v1/sla/calendars/{cal['id']}", "operator_system_admin",
                         json={"definition": changed, "description": "Ningbo, Saturday mornings"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["version"] == 2
    assert patched.json()["definition"]["week"]["sat"] == [["09:00", "12:00"]]
    assert patched.json()["description"] == "Ningbo, Saturday mornings"

    [entry] = audit(db, "calendar.update")
    assert entry.before["version"] == 1 and entry.after["version"] == 2
    assert entry.actor_email == "operator_system_admin@world.test"
    assert audit(db, "calendar.create")[0].after["holidays"] == 1


def test_description_only_edit_keeps_the_version(client, world):
    cal = create_calendar(client, world).json()
    patched = world.call(client, "PATCH", f"/api/v1/sla/calendars/{cal['id']}", "operator_admin",
                         json={"description": "only words"}).json()
    assert patched["version"] == 1 and patched["description"] == "only words"


def test_calendar_errors_name_the_field(client, world):
    def errors(definition):
        r = create_calendar(client, world, definition=definition)
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "invalid"
        return r.json()["errors"][0]["field"], r.json()["detail"]

    overlapping = copy.deepcopy(DEFINITION)
    overlapping["week"]["mon"] = [["09:00", "12:00"], ["11:00", "18:00"]]
    assert errors(overlapping) == ("definition.week.mon[1]",
                                   "definition.week.mon[1]: intervals overlap (11:00-18:00 starts before 12:00)")
    assert errors({**DEFINITION, "timezone": "Mars/Olympus"})[0] == "definition.timezone"
    assert errors({**DEFINITION, "holidays": ["2026-10-01", "2026-13-01"]})[0] == "definition.holidays[1]"
    assert errors({**DEFINITION, "overrides": {"2026-10-10": [["18:00", "09:00"]]}})[0] == \
        "definition.overrides.2026-10-10[0]"
    assert errors({k: v for k, v in DEFINITION.items() if k != "week"})[0] == "definition.week"
    assert errors({**DEFINITION, "colour": "red"})[0] == "definition"
    closed = {**DEFINITION, "week": {d: [] for d in DEFINITION["week"]}, "overrides": {}}
    assert errors(closed)[0] == "definition"

    assert create_calendar(client, world).status_code == 201
    again = create_calendar(client, world)
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "name"
    missing = world.call(client, "POST", "/api/v1/sla/calendars", "operator_admin", json={"name": "x"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "definition"


def test_builtin_calendars_are_editable_but_not_their_flag(client, world):
    refused = world.call(client, "PATCH", "/api/v1/sla/calendars/2", "operator_admin", json={"builtin": False})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "builtin"
    ok = world.call(client, "PATCH", "/api/v1/sla/calendars/2", "operator_admin", json={"description": "标准"})
    assert ok.status_code == 200 and ok.json()["builtin"] is True


def test_calendar_permission_matrix(client, world):
    readers = {"operator_admin": 200, "operator_agent": 200, "operator_audit_admin": 200,
               "customer_a_admin": 404, "customer_a_member": 404, "partner_a_admin": 404, "anonymous": 401}
    world.check(client, "GET", "/api/v1/sla/calendars", readers)
    world.check(client, "GET", "/api/v1/sla/calendars/2", readers)
    world.check(client, "GET", "/api/v1/sla/calendars/2/import-template.xlsx", readers)
    world.check(client, "GET", "/api/v1/sla/calendars/999", {"operator_admin": 404})
    body = {"name": "x", "definition": DEFINITION}
    world.check(client, "POST", "/api/v1/sla/calendars", {
        "anonymous": 401, "customer_a_admin": 404, "partner_a_admin": 404, "operator_agent": 403,
        "operator_security_admin": 403, "operator_system_admin": 201}, json=body)
    writes = {"anonymous": 401, "customer_a_admin": 404, "partner_b_admin": 404, "operator_agent": 403,
              "operator_audit_admin": 403, "operator_admin": 200}
    world.check(client, "PATCH", "/api/v1/sla/calendars/1", writes, json={"description": "d"})
    world.check(client, "POST", "/api/v1/sla/calendars/1/import", writes, json={"year": 2031, "holidays": []})


# --- policies ----------------------------------------------------------------------------------------------


def test_policy_create_read_update(client, world, db):
    created = create_policy(client, world, customer_org_id=world.orgs["customer_a"].id, is_default=True,
                            pause_statuses=["waiting_customer"])
    assert created.status_code == 201, created.text
    policy = created.json()
    assert policy["targets"] == TARGETS and policy["escalations"] == ESCALATIONS
    assert policy["customer_org_id"] == world.orgs["customer_a"].id and policy["is_default"] is True

    got = world.call(client, "GET", f"/api/v1/sla/policies/{policy['id']}", "operator_agent").json()
    assert got["name"] == "甲客户金牌"
    steps = [{"percent": 100, "notify": ["service_manager", "service_manager"]}, {"percent": 75, "notify": []}]
    patched = world.call(client, "PATCH", f"/api/v1/sla/policies/{policy['id']}", "operator_admin",
                         json={"escalations": steps, "calendar_id": 1})
    assert patched.status_code == 200, patched.text
    assert patched.json()["escalations"] == [{"percent": 75, "notify": []},
                                             {"percent": 100, "notify": ["service_manager"]}]
    assert patched.json()["calendar_id"] == 1
    [entry] = audit(db, "sla_policy.update")
    assert entry.before["calendar_id"] == 2 and entry.after["calendar_id"] == 1

    listed = world.call(client, "GET", "/api/v1/sla/policies", "operator_agent",
                        params={"customer_org_id": world.orgs["customer_a"].id}).json()
    assert [p["id"] for p in listed["items"]] == [policy["id"]]


def test_policy_errors_name_the_field(client, world):
    def field(actor="operator_admin", **fields):
        r = create_policy(client, world, actor=actor, **fields)
        assert r.status_code in (409, 422), r.text
        return r.json()["errors"][0]["field"]

    assert field(targets={"P5": {"resolution": 60}}) == "targets.P5.[key]"
    assert field(targets={"P1": {"resolution": 0}}) == "targets.P1.resolution"
    assert field(targets={"P1": {"resolution": -5}}) == "targets.P1.resolution"
    assert field(targets={"P1": {"repair": 60}}) == "targets.P1.repair"
    assert field(targets={"P1": {}}) == "targets.P1"
    assert field(targets={}) == "targets"
    assert field(pause_statuses=["resolved"]) == "pause_statuses.0"
    assert field(pause_statuses=["waiting_customer", "waiting_customer"]) == "pause_statuses.1"
    assert field(escalations=[{"percent": 0, "notify": []}]) == "escalations.0.percent"
    assert field(escalations=[{"percent": 101, "notify": []}]) == "escalations.0.percent"
    assert field(escalations=[{"percent": 50, "notify": ["the_boss"]}]) == "escalations.0.notify.0"
    assert field(escalations=[{"percent": 50}, {"percent": 50, "notify": ["assignee"]}]) == "escalations.1.percent"
    assert field(calendar_id=999) == "calendar_id"
    assert field(customer_org_id=world.orgs["partner_a"].id) == "customer_org_id"
    assert field(customer_org_id=99999) == "customer_org_id"
    assert field(name="标准服务 Standard (working hours)") == "name"


def test_one_default_per_customer_and_one_global_default(client, world):
    org = world.orgs["customer_a"].id
    first = create_policy(client, world, name="A1", customer_org_id=org, is_default=True).json()
    second = create_policy(client, world, name="A2", customer_org_id=org, is_default=True).json()
    other = create_policy(client, world, name="B1", customer_org_id=world.orgs["customer_b"].id,
                          is_default=True).json()

    def default(policy_id):
        return world.call(client, "GET", f"/api/v1/sla/policies/{policy_id}", "operator_admin").json()["is_default"]

    assert (default(first["id"]), default(second["id"]), default(other["id"]), default(1)) == (False, True, True, True)

    # the global default cannot be removed, only replaced
    removed = world.call(client, "PATCH", "/api/v1/sla/policies/1", "operator_admin", json={"is_default": False})
    assert removed.status_code == 409 and removed.json()["errors"][0]["field"] == "is_default"
    deactivated = world.call(client, "PATCH", "/api/v1/sla/policies/1", "operator_admin", json={"is_active": False})
    assert deactivated.status_code == 409
    replaced = world.call(client, "PATCH", "/api/v1/sla/policies/2", "operator_admin", json={"is_default": True})
    assert replaced.status_code == 200 and replaced.json()["is_default"] is True
    assert (default(1), default(2), default(second["id"])) == (False, True, True)


def test_policy_post_is_idempotent(client, world):
    headers = {"Idempotency-Key": "policy-once"}
    first = create_policy(client, world, headers=headers)
    again = create_policy(client, world, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replay"] == "true"
    clash = create_policy(client, world, name="another", headers=headers)
    assert clash.status_code == 409


def test_policy_permission_matrix(client, world):
    own = create_policy(client, world, customer_org_id=world.orgs["customer_a"].id, is_default=True).json()
    spare = create_policy(client, world, name="A-spare", customer_org_id=world.orgs["customer_a"].id).json()
    world.check(client, "GET", f"/api/v1/sla/policies/{own['id']}", {
        "operator_agent": 200, "customer_a_admin": 200, "customer_a_member": 200, "customer_b_admin": 404,
        "partner_a_admin": 404, "partner_a_engineer": 404, "anonymous": 401})
    # the global default applies to every customer without its own; the 7x24 policy to nobody by default
    world.check(client, "GET", "/api/v1/sla/policies/1", {
        "customer_a_admin": 200, "customer_b_admin": 200, "partner_a_admin": 404, "anonymous": 401})
    world.check(client, "GET", "/api/v1/sla/policies/2", {"operator_agent": 200, "customer_b_admin": 404})
    world.check(client, "GET", f"/api/v1/sla/policies/{spare['id']}", {"customer_a_admin": 404})
    world.check(client, "GET", "/api/v1/sla/policies", {
        "operator_agent": 200, "customer_a_admin": 404, "partner_a_admin": 404, "anonymous": 401})
    world.check(client, "PATCH", f"/api/v1/sla/policies/{own['id']}", {
        "anonymous": 401, "customer_b_admin": 404, "partner_a_admin": 404, "customer_a_admin": 403,
        "operator_agent": 403, "operator_admin": 200}, json={"name": "甲客户白金"})
    world.check(client, "POST", "/api/v1/sla/policies", {
        "anonymous": 401, "customer_a_admin": 404, "partner_a_admin": 404, "operator_agent": 403,
        "operator_system_admin": 201}, json={"name": "new", "calendar_id": 1, "targets": TARGETS})
