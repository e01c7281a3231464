"""Who sees and does what in dispatch, endpoint by endpoint: operators see everything (dispatchers and admins
plan and assign); a partner sees the orders assigned to it and its own engineers; a customer sees its own
visits and no engineer; everything else is a 404 (or a 403 for a role that may see but not act)."""

from __future__ import annotations

from tests.dispatch.factories import (
    ENGINEERS,
    PLANS,
    PROPOSALS,
    SHOUGUANG,
    WORK_ORDERS,
    FrozenTime,
    act,
    create_engineer,
    create_order,
    cst,
    ok,
    proposal_for,
    run_plan,
)

OUTSIDERS = {"customer_b_admin": 404, "partner_b_admin": 404, "anonymous": 401}


def _assigned_order(client, world, monkeypatch):  # type: ignore[no-untyped-def]
    """A visit for customer A, assigned to partner A's engineer; partner B has an engineer of its own."""
    FrozenTime(monkeypatch, cst(2026, 3, 10, 10, 0))
    engineer = create_engineer(client, world, "partner_a_engineer")
    other = create_engineer(client, world, "partner_b_engineer", skills=["storage"])
    order = create_order(client, world, customer_org_id=world.orgs["customer_a"].id, title="机房巡检",
                         site_region_code=SHOUGUANG, required_skills=["network"])
    plan = run_plan(client, world)
    return engineer, other, order, plan


def test_reading_work_orders_engineers_plans_and_proposals(client, world, monkeypatch):
    engineer, other, order, plan = _assigned_order(client, world, monkeypatch)
    proposal = proposal_for(plan, order["id"])
    path = f"{WORK_ORDERS}/{order['id']}"
    # before acceptance the order belongs to no partner yet
    world.check(client, "GET", path, {"operator_agent": 200, "operator_audit_admin": 200, "customer_a_member": 200,
                                      "partner_a_admin": 404, "partner_a_engineer": 404, **OUTSIDERS})
    ok(world.call(client, "POST", f"{PROPOSALS}/{proposal['id']}/accept", "operator_dispatcher"))
    world.check(client, "GET", path, {"operator_agent": 200, "customer_a_member": 200, "partner_a_admin": 200,
                                      "partner_a_engineer": 200, **OUTSIDERS})

    def listed(actor: str) -> list[int]:
        return [o["id"] for o in ok(world.call(client, "GET", WORK_ORDERS, actor))["items"]]

    assert listed("partner_a_engineer") == listed("customer_a_admin") == listed("operator_admin") == [order["id"]]
    assert listed("partner_b_admin") == listed("customer_b_admin") == []
    mine = ok(world.call(client, "GET", f"{WORK_ORDERS}?mine=true", "partner_a_engineer2"))
    assert mine["total"] == 0

    world.check(client, "GET", f"{ENGINEERS}/{engineer['id']}", {
        "operator_agent": 200, "partner_a_admin": 200, "partner_a_engineer": 200, "partner_b_admin": 404,
        "customer_a_admin": 404, "anonymous": 401})
    world.check(client, "GET", f"{ENGINEERS}/{other['id']}", {"partner_a_admin": 404, "partner_b_engineer": 200})
    world.check(client, "GET", f"{PLANS}/{plan['id']}", {
        "operator_dispatcher": 200, "operator_agent": 200, "partner_a_admin": 404, "customer_a_admin": 404,
        "anonymous": 401})
    world.check(client, "GET", f"{PROPOSALS}?status=pending", {
        "operator_dispatcher": 200, "partner_a_admin": 403, "customer_a_admin": 403, "anonymous": 401})
    world.check(client, "GET", f"{path}/candidates", {
        "operator_dispatcher": 200, "operator_agent": 200, "partner_a_admin": 403, "customer_a_admin": 403,
        "partner_b_admin": 404, "customer_b_admin": 404, "anonymous": 401})


def test_acting_on_work_orders_and_proposals(client, world, monkeypatch):
    engineer, other, order, plan = _assigned_order(client, world, monkeypatch)
    proposal = proposal_for(plan, order["id"])
    path = f"{WORK_ORDERS}/{order['id']}"
    world.check(client, "POST", PLANS, {"operator_agent": 403, "partner_a_admin": 403, "customer_a_admin": 403,
                                        "anonymous": 401})
    world.check(client, "POST", f"{PROPOSALS}/{proposal['id']}/reject", {
        "operator_agent": 403, "partner_a_admin": 404, "customer_a_admin": 404, "anonymous": 401}, json={})
    world.check(client, "POST", f"{PROPOSALS}/{proposal['id']}/accept", {
        "operator_agent": 403, "partner_a_admin": 404, "customer_a_admin": 404, "partner_b_admin": 404,
        "anonymous": 401})
    world.check(client, "POST", f"{path}/assign", {
        "operator_agent": 403, "customer_a_admin": 403, "partner_a_admin": 404, **OUTSIDERS},
        json={"engineer_id": engineer["id"]})
    world.check(client, "POST", f"{path}/cancel", {
        "operator_agent": 403, "customer_a_admin": 403, **OUTSIDERS}, json={"reason": "x"})
    ok(world.call(client, "POST", f"{PROPOSALS}/{proposal['id']}/accept", "operator_admin"))
    for step in ("accept", "start-travel", "check-in"):
        world.check(client, "POST", f"{path}/{step}", {
            "operator_dispatcher": 403, "partner_a_admin": 403, "partner_a_engineer2": 403, "customer_a_admin": 403,
            "partner_b_engineer": 404, "customer_b_admin": 404, "anonymous": 401})
        act(client, world, order["id"], step, "partner_a_engineer")
    world.check(client, "POST", f"{path}/check-out", {
        "partner_a_engineer2": 403, "partner_b_engineer": 404, "customer_a_admin": 403, "anonymous": 401},
        json={"notes": "done"})
    act(client, world, order["id"], "check-out", "partner_a_engineer", notes="已修复")
    world.check(client, "POST", f"{path}/confirm", {
        "operator_admin": 403, "partner_a_admin": 403, "customer_b_admin": 404, "anonymous": 401},
        json={"rating": 5})
    assert act(client, world, order["id"], "confirm", "customer_a_member", rating=5)["confirmation_rating"] == 5


def test_engineer_management_endpoints(client, world):
    engineer = create_engineer(client, world, "partner_a_engineer")
    path = f"{ENGINEERS}/{engineer['id']}"
    world.check(client, "PATCH", path, {"partner_b_admin": 404, "customer_a_admin": 404, "partner_a_engineer": 403,
                                        "operator_agent": 403, "anonymous": 401}, json={"max_orders_per_day": 2})
    absence = {"kind": "leave", "starts_at": "2027-01-01T00:00:00Z", "ends_at": "2027-01-02T00:00:00Z"}
    world.check(client, "POST", f"{path}/absences", {"partner_b_admin": 404, "customer_a_admin": 404,
                                                     "partner_a_engineer": 403, "anonymous": 401}, json=absence)
    world.check(client, "POST", f"{path}/certifications", {"partner_b_admin": 404, "customer_b_admin": 404,
                                                           "operator_agent": 403}, json={"name": "CISP"})
    world.check(client, "GET", ENGINEERS, {"customer_a_admin": 200, "partner_b_admin": 200, "anonymous": 401})
    world.check(client, "POST", WORK_ORDERS, {"partner_a_admin": 403, "customer_a_admin": 403, "anonymous": 401},
                json={"customer_org_id": world.orgs["customer_a"].id, "title": "x", "site_region_code": SHOUGUANG})
