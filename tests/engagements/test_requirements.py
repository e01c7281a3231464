"""Requirement versions through the API: immutable history, sign-off by the customer, change orders after
winning, graded deliverables and their roll-up, and the permission matrix on every endpoint."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from huoban.models import AuditEntry, Deliverable, Engagement, EngagementEvent, RequirementItem, RequirementVersion

ITEMS = [
    {"title": "单点登录", "description": "员工用企业微信登录", "acceptance_criteria": "十名员工试用通过",
     "priority": "must"},
    {"title": "并发", "description": "系统支持万人并发访问", "acceptance_criteria": "压测报告", "priority": "should"},
    {"title": "报表导出", "description": "Export monthly reports as PDF.", "priority": "could"},
]
OUTSIDERS = {"customer_b_admin": 404, "partner_a_admin": 404, "anonymous": 401}


def make_engagement(db, world, stage: str = "proposal") -> Engagement:  # type: ignore[no-untyped-def]
    engagement = Engagement(customer_org_id=world.orgs["customer_a"].id, owner_id=world.users["operator_admin"].id,
                            title="智慧园区", goal="园区访客管理上云", stage=stage)
    db.add(engagement)
    db.commit()
    return engagement


def call(client, world, actor: str, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:  # type: ignore[no-untyped-def]
    response = world.call(client, method, f"/api/v1/engagements{path}", actor, **kwargs)
    assert response.status_code == expect, response.text
    return response.json() if response.headers.get("content-type", "").startswith("application/json") else response


def propose(client, world, eid: int, items: list[dict[str, Any]], actor: str = "operator_admin",  # type: ignore[no-untyped-def]
            expect: int = 201, headers: dict[str, str] | None = None, **extra: Any) -> Any:
    return call(client, world, actor, "POST", f"/{eid}/requirements", expect, json={"items": items, **extra},
                headers=headers or {})


def signed_engagement(client, world, db, stage: str = "won") -> tuple[Engagement, dict[str, Any]]:  # type: ignore[no-untyped-def]
    engagement = make_engagement(db, world, stage="proposal")
    v1 = propose(client, world, engagement.id, ITEMS)
    call(client, world, "customer_a_admin", "POST", f"/{engagement.id}/requirements/1/sign", json={"comment": "同意"})
    engagement.stage = stage
    db.commit()
    return engagement, v1


def count(db, model, *where):  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count()).select_from(model).where(*where))


# --- versions -------------------------------------------------------------------------------------------


def test_each_proposal_is_a_new_version_with_keys_that_follow_items(client, world, db):
    engagement = make_engagement(db, world)
    v1 = propose(client, world, engagement.id, ITEMS, note="初稿")
    assert (v1["number"], v1["status"], v1["based_on_id"], v1["note"]) == (1, "submitted", None, "初稿")
    assert [(i["key"], i["position"]) for i in v1["items"]] == [("R-1", 1), ("R-2", 2), ("R-3", 3)]

    v2 = propose(client, world, engagement.id, [
        {"key": "R-2", **ITEMS[1], "description": "系统支持两万人并发访问"}, {"key": "R-1", **ITEMS[0]},
        {"title": "审计日志", "priority": "must", "owner_id": world.users["customer_a_member"].id},
    ], actor="customer_a_admin")
    assert (v2["number"], v2["based_on_id"]) == (2, v1["id"])
    assert [i["key"] for i in v2["items"]] == ["R-2", "R-1", "R-4"]  # R-3 was dropped and its key is not reused

    first = call(client, world, "customer_a_member", "GET", f"/{engagement.id}/requirements/1")
    assert first["items"] == v1["items"]  # nothing was changed in place
    listed = call(client, world, "customer_a_member", "GET", f"/{engagement.id}/requirements")
    assert [(v["number"], v["status"]) for v in listed] == [(1, "submitted"), (2, "submitted")]
    assert count(db, RequirementItem) == 6

    diff = call(client, world, "customer_a_admin", "GET", f"/{engagement.id}/requirements/diff?from=1&to=2")
    assert [i["key"] for i in diff["added"]] == ["R-4"] and [i["key"] for i in diff["removed"]] == ["R-3"]
    assert diff["reordered"] == [{"key": "R-2", "old_position": 2, "new_position": 1}]
    segments = diff["changed"][0]["fields"]["description"]["segments"]
    assert [s["op"] for s in segments] == ["equal", "replace", "equal"] and segments[1]["new"] == "两万人"
    assert count(db, AuditEntry, AuditEntry.action == "requirements.propose") == 2


def test_versions_cannot_be_edited_a_signed_version_is_only_superseded(client, world, db):
    engagement = make_engagement(db, world)
    propose(client, world, engagement.id, ITEMS)
    signed = call(client, world, "customer_a_admin", "POST", f"/{engagement.id}/requirements/1/sign",
                  json={"comment": "同意"})
    assert (signed["status"], signed["is_current"], signed["decision_comment"]) == ("signed", True, "同意")
    assert signed["decided_by_id"] == world.users["customer_a_admin"].id and signed["decided_at"]

    for method in ("PUT", "PATCH", "DELETE"):
        for path in (f"/{engagement.id}/requirements/1", f"/{engagement.id}/requirements"):
            assert world.call(client, method, f"/api/v1/engagements{path}", "operator_admin",
                              json={"items": ITEMS}).status_code == 405
    call(client, world, "customer_a_admin", "POST", f"/{engagement.id}/requirements/1/return", 409,
         json={"comment": "再想想"})

    propose(client, world, engagement.id, [{"key": "R-1", **ITEMS[0], "title": "统一身份认证"}])
    assert call(client, world, "operator_admin", "GET", f"/{engagement.id}/requirements/current")["number"] == 1
    call(client, world, "customer_a_admin", "POST", f"/{engagement.id}/requirements/2/sign", json={})
    versions = call(client, world, "operator_admin", "GET", f"/{engagement.id}/requirements")
    assert [(v["number"], v["status"], v["is_current"]) for v in versions] == [(1, "signed", False),
                                                                                (2, "signed", True)]
    old = call(client, world, "operator_admin", "GET", f"/{engagement.id}/requirements/1")
    assert [i["title"] for i in old["items"]] == [i["title"] for i in ITEMS]
    assert count(db, EngagementEvent, EngagementEvent.kind == "requirements.signed") == 2
    assert count(db, AuditEntry, AuditEntry.action == "requirements.sign") == 2


def test_sign_off_belongs_to_the_customer_admin_of_that_customer(client, world, db):
    engagement = make_engagement(db, world)
    propose(client, world, engagement.id, ITEMS)
    path = f"/api/v1/engagements/{engagement.id}/requirements/1/sign"
    world.check(client, "POST", path, {"operator_admin": 403, "customer_a_member": 403, "customer_b_admin": 404,
                                       "partner_a_admin": 404, "anonymous": 401}, json={"comment": "x"})
    call(client, world, "customer_a_admin", "POST", f"/{engagement.id}/requirements/1/return", 422, json={})
    returned = call(client, world, "customer_a_admin", "POST", f"/{engagement.id}/requirements/1/return",
                    json={"comment": "缺少验收标准"})
    assert (returned["status"], returned["decision_comment"]) == ("returned", "缺少验收标准")
    assert count(db, EngagementEvent, EngagementEvent.kind == "requirements.returned") == 1
    call(client, world, "customer_a_admin", "POST", f"/{engagement.id}/requirements/1/sign", 409, json={})

    propose(client, world, engagement.id, ITEMS)
    propose(client, world, engagement.id, ITEMS[:2])
    call(client, world, "customer_a_admin", "POST", f"/{engagement.id}/requirements/2/sign", 409, json={})
    call(client, world, "customer_a_admin", "POST", f"/{engagement.id}/requirements/3/sign", json={})
    call(client, world, "customer_a_admin", "GET", f"/{engagement.id}/requirements/current")


def test_who_may_propose_and_bad_input(client, world, db):
    engagement = make_engagement(db, world)
    for actor in ("customer_a_member", "operator_agent"):
        propose(client, world, engagement.id, ITEMS, actor=actor, expect=403)
    propose(client, world, engagement.id, [{"key": "R-1", "title": "a"}, {"key": "R-1", "title": "b"}], expect=422)
    propose(client, world, engagement.id, [{"key": "X-1", "title": "a"}], expect=422)
    propose(client, world, engagement.id, [{"title": "a", "priority": "urgent"}], expect=422)
    propose(client, world, engagement.id, [], expect=422)
    propose(client, world, engagement.id, [{"title": "a", "owner_id": world.users["customer_b_admin"].id}],
            expect=422)
    assert count(db, RequirementVersion) == 0
    call(client, world, "operator_admin", "GET", f"/{engagement.id}/requirements/current", 404)
    call(client, world, "operator_admin", "GET", f"/{engagement.id}/requirements/9", 404)
    call(client, world, "operator_admin", "GET", f"/{engagement.id}/requirements/diff?from=1&to=2", 404)


def test_proposing_a_version_is_idempotent(client, world, db):
    engagement = make_engagement(db, world)
    headers = {"Idempotency-Key": "req-1"}
    first = propose(client, world, engagement.id, ITEMS, headers=headers)
    again = world.call(client, "POST", f"/api/v1/engagements/{engagement.id}/requirements", "operator_admin",
                       json={"items": ITEMS}, headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replay"] == "true" and again.json() == first
    propose(client, world, engagement.id, ITEMS[:1], headers=headers, expect=409)
    assert count(db, RequirementVersion) == 1


# --- change orders --------------------------------------------------------------------------------------


def change(**extra: Any) -> dict[str, Any]:
    return {"items": [{"key": "R-1", **ITEMS[0]}, {"key": "R-2", **ITEMS[1], "description": "系统支持两万人并发访问"}],
            "note": "扩容", "reason": "访客量翻倍", "effort_hours": 40, "price_impact_fen": 1_200_000, **extra}


def test_after_winning_a_change_takes_effect_only_when_the_customer_approves(client, world, db):
    engagement, v1 = signed_engagement(client, world, db)
    eid = engagement.id
    refused = world.call(client, "POST", f"/api/v1/engagements/{eid}/requirements", "operator_admin",
                         json={"items": ITEMS})
    assert refused.status_code == 409 and "propose a change order" in refused.json()["detail"]
    assert "/api/" not in refused.json()["detail"]

    order = call(client, world, "operator_admin", "POST", f"/{eid}/change-orders", 201, json=change())
    assert (order["status"], order["effort_hours"], order["price_impact_fen"]) == ("pending", 40, 1_200_000)
    assert order["from_version_id"] == v1["id"]
    versions = call(client, world, "customer_a_admin", "GET", f"/{eid}/requirements")
    assert [(v["number"], v["status"]) for v in versions] == [(1, "signed"), (2, "proposed-change")]
    assert call(client, world, "customer_a_admin", "GET", f"/{eid}/requirements/current")["number"] == 1
    call(client, world, "customer_a_admin", "POST", f"/{eid}/requirements/2/sign", 409, json={})
    call(client, world, "operator_admin", "POST", f"/{eid}/change-orders", 409, json=change())  # one pending
    for actor, status in (("operator_admin", 403), ("customer_a_member", 403), ("customer_b_admin", 404)):
        call(client, world, actor, "POST", f"/{eid}/change-orders/{order['id']}/approve", status, json={})
    assert call(client, world, "customer_a_admin", "GET", f"/{eid}/requirements/current")["number"] == 1

    approved = call(client, world, "customer_a_admin", "POST", f"/{eid}/change-orders/{order['id']}/approve",
                    json={"comment": "同意追加"})
    assert (approved["status"], approved["decision_comment"]) == ("approved", "同意追加")
    current = call(client, world, "customer_a_admin", "GET", f"/{eid}/requirements/current")
    assert (current["number"], current["status"], len(current["items"])) == (2, "signed", 2)
    versions = call(client, world, "customer_a_admin", "GET", f"/{eid}/requirements")
    assert [(v["status"], v["is_current"]) for v in versions] == [("signed", False), ("signed", True)]
    call(client, world, "customer_a_admin", "POST", f"/{eid}/change-orders/{order['id']}/reject", 409, json={})
    assert count(db, EngagementEvent, EngagementEvent.kind == "change_order.approved") == 1


def test_a_rejected_change_order_leaves_the_signed_version_in_force(client, world, db):
    engagement, _ = signed_engagement(client, world, db, stage="delivering")
    eid = engagement.id
    order = call(client, world, "customer_a_admin", "POST", f"/{eid}/change-orders", 201,
                 json=change(price_impact_fen=-50_000, effort_hours=0), headers={"Idempotency-Key": "co-1"})
    assert order["price_impact_fen"] == -50_000
    rejected = call(client, world, "customer_a_admin", "POST", f"/{eid}/change-orders/{order['id']}/reject",
                    json={"comment": "预算不足"})
    assert rejected["status"] == "rejected"
    current = call(client, world, "operator_admin", "GET", f"/{eid}/requirements/current")
    assert (current["number"], len(current["items"])) == (1, 3)
    versions = call(client, world, "operator_admin", "GET", f"/{eid}/requirements")
    assert [v["status"] for v in versions] == ["signed", "rejected-change"]
    listed = call(client, world, "customer_a_member", "GET", f"/{eid}/change-orders")
    assert [c["status"] for c in listed] == ["rejected"]
    assert count(db, AuditEntry, AuditEntry.action == "change_order.reject") == 1


@pytest.mark.parametrize(("fields", "field"), [({"effort_hours": -1}, "effort_hours"), ({"reason": ""}, "reason"),
                                                ({"price_impact_fen": 1.5}, "price_impact_fen")])
def test_change_order_input_is_checked(client, world, db, fields, field):
    engagement, _ = signed_engagement(client, world, db)
    body = call(client, world, "operator_admin", "POST", f"/{engagement.id}/change-orders", 422, json=change(**fields))
    assert field in {e["field"].split(".")[-1] for e in body["errors"]}


def test_change_orders_need_a_won_engagement(client, world, db):
    engagement, _ = signed_engagement(client, world, db, stage="bidding")
    call(client, world, "operator_admin", "POST", f"/{engagement.id}/change-orders", 409, json=change())
    propose(client, world, engagement.id, ITEMS)  # before winning a signed version is simply superseded



@pytest.mark.parametrize("stage", ["won", "delivering", "accepted"])
def test_a_version_submitted_before_the_win_cannot_be_signed_after_it(client, world, db, stage):
    engagement, v1 = signed_engagement(client, world, db, stage="bidding")
    propose(client, world, engagement.id, [*ITEMS, {"title": "访客黑名单", "priority": "must"}])  # v2, submitted
    engagement.stage = stage
    db.commit()
    refused = world.call(client, "POST", f"/api/v1/engagements/{engagement.id}/requirements/2/sign",
                         "customer_a_admin", json={"comment": "同意"})
    assert refused.status_code == 409, refused.text
    assert refused.json()["errors"][0]["field"] == "stage"
    expected = "are final" if stage == "accepted" else "change order"
    assert expected in refused.json()["detail"] and "/api/" not in refused.json()["detail"]
    current = call(client, world, "customer_a_admin", "GET", f"/{engagement.id}/requirements/current")
    assert (current["number"], len(current["items"])) == (1, len(ITEMS))  # the signed scope did not change
    listed = call(client, world, "customer_a_admin", "GET", f"/{engagement.id}/requirements")
    assert [(v["number"], v["status"]) for v in listed] == [(1, "signed"), (2, "submitted")]
    # returning it is still fine; a change goes through a change order until the engagement is accepted
    call(client, world, "customer_a_admin", "POST", f"/{engagement.id}/requirements/2/return",
         json={"comment": "请走变更单"})
    call(client, world, "operator_admin", "POST", f"/{engagement.id}/change-orders",
         409 if stage == "accepted" else 201, json=change())


def test_a_won_engagement_without_a_signed_version_can_still_sign_its_first(client, world, db):
    engagement = make_engagement(db, world, stage="won")
    propose(client, world, engagement.id, ITEMS)
    signed = call(client, world, "customer_a_admin", "POST", f"/{engagement.id}/requirements/1/sign", json={})
    assert signed["status"] == "signed"


@pytest.mark.parametrize("stage", ["lost", "closed"])
def test_no_decisions_on_a_lost_or_closed_engagement(client, world, db, stage):
    engagement = make_engagement(db, world)
    propose(client, world, engagement.id, ITEMS)
    engagement.stage = stage
    db.commit()
    for action, body in (("sign", {}), ("return", {"comment": "不要了"})):
        refused = world.call(client, "POST", f"/api/v1/engagements/{engagement.id}/requirements/1/{action}",
                             "customer_a_admin", json=body)
        assert refused.status_code == 409 and refused.json()["errors"][0]["field"] == "stage", refused.text
    assert count(db, RequirementVersion, RequirementVersion.status == "submitted") == 1


# --- deliverables ---------------------------------------------------------------------------------------


def deliver(client, world, eid: int, title: str, org: str = "operator", keys: tuple[str, ...] = ("R-1",)) -> Any:  # type: ignore[no-untyped-def]
    d = call(client, world, "operator_admin", "POST", f"/{eid}/deliverables", 201,
             json={"title": title, "item_keys": list(keys), "delivered_by_org_id": world.orgs[org].id})
    return call(client, world, "operator_admin", "POST", f"/{eid}/deliverables/{d['id']}/submit")


def test_the_customer_grades_deliverables_and_scores_roll_up(client, world, db):
    engagement, _ = signed_engagement(client, world, db, stage="delivering")
    eid = engagement.id
    call(client, world, "operator_admin", "POST", f"/{eid}/deliverables", 422,
         json={"title": "x", "item_keys": ["R-9"], "delivered_by_org_id": world.orgs["operator"].id})
    call(client, world, "operator_admin", "POST", f"/{eid}/deliverables", 422,
         json={"title": "x", "item_keys": ["R-1"], "delivered_by_org_id": world.orgs["customer_b"].id})
    first = deliver(client, world, eid, "登录模块")
    second = deliver(client, world, eid, "压测报告", org="partner_a", keys=("R-2", "R-3"))
    assert first["status"] == "submitted" and first["submitted_at"]

    call(client, world, "operator_admin", "POST", f"/{eid}/deliverables/{first['id']}/accept", 403, json={"score": 5})
    call(client, world, "customer_a_member", "POST", f"/{eid}/deliverables/{first['id']}/accept", 422,
         json={"score": 6})
    call(client, world, "customer_a_member", "POST", f"/{eid}/deliverables/{second['id']}/reject", 422,
         json={"score": 2})
    accepted = call(client, world, "customer_a_member", "POST", f"/{eid}/deliverables/{first['id']}/accept",
                    json={"score": 5, "comment": "好用"})
    assert (accepted["status"], accepted["score"]) == ("accepted", 5)
    call(client, world, "customer_a_admin", "POST", f"/{eid}/deliverables/{first['id']}/reject", 409,
         json={"score": 1, "comment": "x"})
    rejected = call(client, world, "customer_a_admin", "POST", f"/{eid}/deliverables/{second['id']}/reject",
                    json={"score": 2, "comment": "缺少峰值数据"})
    assert rejected["status"] == "rejected"
    db.refresh(engagement)
    assert engagement.stage == "delivering"

    by_provider = call(client, world, "operator_admin", "GET", "/scores?by=provider")
    assert {(r["name"], r["average_score"], r["graded"], r["accepted"], r["rejected"]) for r in by_provider} == {
        ("测试运营方", 5.0, 1, 1, 0), ("甲伙伴", 2.0, 1, 0, 1)}

    call(client, world, "operator_admin", "POST", f"/{eid}/deliverables/{second['id']}/submit")
    call(client, world, "customer_a_admin", "POST", f"/{eid}/deliverables/{second['id']}/accept", json={"score": 4})
    db.refresh(engagement)
    assert engagement.stage == "accepted"
    by_engagement = call(client, world, "operator_admin", "GET", "/scores?by=engagement")
    assert [(r["id"], r["average_score"], r["graded"], r["accepted"]) for r in by_engagement] == [(eid, 4.5, 2, 2)]
    by_customer = call(client, world, "operator_admin", "GET", "/scores?by=customer")
    assert [(r["name"], r["accepted"], r["rejected"]) for r in by_customer] == [("甲客户", 2, 0)]
    call(client, world, "operator_admin", "GET", "/scores?by=region", 422)
    listed = call(client, world, "customer_a_member", "GET", f"/{eid}/deliverables")
    assert [d["status"] for d in listed] == ["accepted", "accepted"]


def test_deliverables_need_a_signed_version(client, world, db):
    engagement = make_engagement(db, world, stage="won")
    call(client, world, "operator_admin", "POST", f"/{engagement.id}/deliverables", 409,
         json={"title": "x", "item_keys": ["R-1"], "delivered_by_org_id": world.orgs["operator"].id})


@pytest.mark.parametrize("stage", ["proposal", "bidding", "lost", "closed"])
def test_deliverables_need_a_won_engagement(client, world, db, stage):
    engagement, _ = signed_engagement(client, world, db, stage=stage)
    refused = world.call(client, "POST", f"/api/v1/engagements/{engagement.id}/deliverables", "operator_admin",
                         json={"title": "x", "item_keys": ["R-1"], "delivered_by_org_id": world.orgs["operator"].id})
    assert refused.status_code == 409 and refused.json()["errors"][0]["field"] == "stage", refused.text
    assert count(db, Deliverable) == 0
    engagement.stage = "delivering"
    db.commit()
    deliver(client, world, engagement.id, "访客小程序")
    assert count(db, Deliverable) == 1


# --- permission matrix ----------------------------------------------------------------------------------


def test_permission_matrix_on_every_endpoint(client, world, db):
    engagement, _ = signed_engagement(client, world, db, stage="delivering")
    eid = engagement.id
    base = f"/api/v1/engagements/{eid}"
    order = call(client, world, "operator_admin", "POST", f"/{eid}/change-orders", 201, json=change())
    d = call(client, world, "operator_admin", "POST", f"/{eid}/deliverables", 201,
             json={"title": "x", "item_keys": ["R-1"], "delivered_by_org_id": world.orgs["operator"].id})
    readers = {"operator_admin": 200, "customer_a_admin": 200, "customer_a_member": 200, **OUTSIDERS}
    for path in ("/requirements", "/requirements/1", "/requirements/current", "/requirements/diff?from=1&to=2",
                 "/requirements/1/export.xlsx", "/change-orders", "/deliverables"):
        world.check(client, "GET", base + path, readers)
    world.check(client, "GET", "/api/v1/engagements/scores",
                {"operator_admin": 200, "customer_a_admin": 403, "partner_a_admin": 403, "anonymous": 401})

    writes: list[tuple[str, dict[str, Any], dict[str, int]]] = [
        ("/requirements", {"items": ITEMS}, {"customer_a_member": 403, "operator_admin": 409}),
        ("/requirements/2/sign", {}, {"customer_a_member": 403, "operator_admin": 403, "customer_a_admin": 409}),
        ("/requirements/2/return", {"comment": "x"}, {"operator_admin": 403, "customer_a_admin": 409}),
        ("/change-orders", change(), {"customer_a_member": 403, "operator_admin": 409}),
        (f"/change-orders/{order['id']}/approve", {}, {"operator_admin": 403, "customer_a_member": 403}),
        (f"/change-orders/{order['id']}/reject", {}, {"operator_admin": 403, "customer_a_member": 403}),
        ("/deliverables", {"title": "y", "item_keys": ["R-1"], "delivered_by_org_id": world.orgs["operator"].id},
         {"customer_a_admin": 403}),
        (f"/deliverables/{d['id']}/accept", {"score": 3}, {"operator_admin": 403, "customer_a_member": 409}),
        (f"/deliverables/{d['id']}/reject", {"score": 3, "comment": "x"}, {"operator_admin": 403}),
        (f"/deliverables/{d['id']}/submit", {}, {"customer_a_admin": 403}),
    ]
    for path, body, allowed in writes:
        world.check(client, "POST", base + path, {**allowed, **OUTSIDERS}, json=body)
    world.check(client, "POST", "/api/v1/engagements/999999/requirements",
                {"operator_admin": 404, "customer_a_admin": 404, "anonymous": 401}, json={"items": ITEMS})


# --- acceptance, change orders and the stage ------------------------------------------------------------


def stage(client, world, eid: int, target: str, expect: int = 200) -> Any:  # type: ignore[no-untyped-def]
    return call(client, world, "operator_admin", "POST", f"/{eid}/stage", expect, json={"stage": target})


def test_accepted_means_at_least_one_deliverable_all_accepted(client, world, db):
    engagement, _ = signed_engagement(client, world, db, stage="delivering")
    eid = engagement.id
    refused = stage(client, world, eid, "accepted", 409)
    assert refused["errors"][0]["field"] == "stage" and "no deliverables" in refused["detail"]
    made = call(client, world, "operator_admin", "POST", f"/{eid}/deliverables", 201,
                json={"title": "访客小程序", "item_keys": ["R-1"], "delivered_by_org_id": world.orgs["operator"].id})
    refused = stage(client, world, eid, "accepted", 409)
    assert refused["errors"][0]["field"] == "stage" and "1 deliverables are not accepted" in refused["detail"]
    call(client, world, "operator_admin", "POST", f"/{eid}/deliverables/{made['id']}/submit")
    call(client, world, "customer_a_admin", "POST", f"/{eid}/deliverables/{made['id']}/accept", json={"score": 5})
    db.refresh(engagement)
    assert engagement.stage == "accepted"

    # accepted: nothing more to deliver, and closing keeps what acceptance meant
    refused = call(client, world, "operator_admin", "POST", f"/{eid}/deliverables", 409,
                   json={"title": "补充", "item_keys": ["R-1"], "delivered_by_org_id": world.orgs["operator"].id})
    assert refused["errors"][0]["field"] == "stage"
    assert count(db, Deliverable) == 1
    assert stage(client, world, eid, "closed")["stage"] == "closed"


def test_a_pending_deliverable_left_on_an_accepted_engagement_blocks_closing(client, world, db):
    engagement, _ = signed_engagement(client, world, db, stage="accepted")
    db.add(Deliverable(engagement_id=engagement.id, title="旧数据", item_keys=["R-1"],
                       delivered_by_org_id=world.orgs["operator"].id, status="pending"))
    db.commit()  # a row from before the rule
    (row,) = call(client, world, "operator_admin", "GET", f"/{engagement.id}/deliverables")
    refused = call(client, world, "operator_admin", "POST", f"/{engagement.id}/deliverables/{row['id']}/submit", 409)
    assert refused["errors"][0]["field"] == "stage"
    refused = stage(client, world, engagement.id, "closed", 409)
    assert refused["errors"][0]["field"] == "stage" and "not accepted" in refused["detail"]
    db.refresh(engagement)
    assert engagement.stage == "accepted"


def test_a_pending_change_order_holds_acceptance_until_the_customer_decides(client, world, db):
    engagement, _ = signed_engagement(client, world, db, stage="delivering")
    eid = engagement.id
    made = deliver(client, world, eid, "访客小程序")
    order = call(client, world, "operator_admin", "POST", f"/{eid}/change-orders", 201, json=change())
    call(client, world, "customer_a_admin", "POST", f"/{eid}/deliverables/{made['id']}/accept", json={"score": 5})
    db.refresh(engagement)
    assert engagement.stage == "delivering"  # every deliverable is accepted, but the change is undecided
    refused = stage(client, world, eid, "accepted", 409)
    assert refused["errors"][0]["field"] == "stage" and f"Change order {order['id']}" in refused["detail"]

    call(client, world, "customer_a_admin", "POST", f"/{eid}/change-orders/{order['id']}/reject",
         json={"comment": "本期不做"})
    assert stage(client, world, eid, "accepted")["stage"] == "accepted"
    refused = call(client, world, "operator_admin", "POST", f"/{eid}/change-orders", 409, json=change())
    assert refused["errors"][0]["field"] == "stage" and "settled" in refused["detail"]
    assert [c["status"] for c in call(client, world, "operator_admin", "GET", f"/{eid}/change-orders")] == [
        "rejected"]


@pytest.mark.parametrize("later", ["accepted", "closed"])
def test_a_change_order_is_not_decided_once_the_engagement_is_accepted_or_closed(client, world, db, later):
    engagement, _ = signed_engagement(client, world, db, stage="delivering")
    eid = engagement.id
    order = call(client, world, "operator_admin", "POST", f"/{eid}/change-orders", 201, json=change())
    made = deliver(client, world, eid, "访客小程序")
    call(client, world, "customer_a_admin", "POST", f"/{eid}/deliverables/{made['id']}/accept", json={"score": 4})
    engagement.stage = later  # rows from before the rule: an order left pending past delivery
    db.commit()
    for action in ("approve", "reject"):
        refused = call(client, world, "customer_a_admin", "POST", f"/{eid}/change-orders/{order['id']}/{action}",
                       409, json={})
        assert refused["errors"][0]["field"] == "stage"
    listed = call(client, world, "customer_a_admin", "GET", f"/{eid}/change-orders")
    assert [c["status"] for c in listed] == ["pending"]
    current = call(client, world, "customer_a_admin", "GET", f"/{eid}/requirements/current")
    assert current["number"] == 1  # the change never took effect
    if later == "accepted":
        refused = stage(client, world, eid, "closed", 409)
        assert refused["errors"][0]["field"] == "stage" and "Change order" in refused["detail"]


# --- immutability in the database -----------------------------------------------------------------------


def refused_by_the_database(db, sql: str, **params: Any) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DBAPIError), db.begin_nested():
        db.execute(text(sql), params)


def test_the_database_refuses_to_edit_or_delete_requirements(client, world, db):
    engagement, v1 = signed_engagement(client, world, db, stage="delivering")
    call(client, world, "operator_admin", "POST", f"/{engagement.id}/change-orders", 201, json=change())
    item = v1["items"][0]
    version_id = v1["id"]
    refused_by_the_database(db, "UPDATE requirement_items SET title = '改过' WHERE version_id = :v AND key = :k",
                            v=version_id, k=item["key"])
    refused_by_the_database(db, "DELETE FROM requirement_items WHERE version_id = :v", v=version_id)
    refused_by_the_database(db, "DELETE FROM requirement_versions WHERE id = :v", v=version_id)
    refused_by_the_database(db, "UPDATE requirement_versions SET note = '改过' WHERE id = :v", v=version_id)
    refused_by_the_database(db, "UPDATE requirement_versions SET number = 9 WHERE id = :v", v=version_id)
    refused_by_the_database(db, "UPDATE requirement_versions SET status = 'returned' WHERE id = :v", v=version_id)
    refused_by_the_database(db, "UPDATE requirement_versions SET decision_comment = '改过' WHERE id = :v",
                            v=version_id)
    # the change order's version may only be signed or rejected, never e.g. returned or set back
    refused_by_the_database(db, "UPDATE requirement_versions SET status = 'returned' WHERE number = 2")
    refused_by_the_database(db, "UPDATE requirement_versions SET decision_comment = 'x' WHERE number = 2")

    db.expire_all()
    again = call(client, world, "customer_a_member", "GET", f"/{engagement.id}/requirements/1")
    assert (again["status"], again["note"], again["decision_comment"], again["items"]) == (
        "signed", v1["note"], "同意", v1["items"])
    # what the services do is still allowed: the customer approves the change
    order = call(client, world, "customer_a_admin", "GET", f"/{engagement.id}/change-orders")[0]
    call(client, world, "customer_a_admin", "POST", f"/{engagement.id}/change-orders/{order['id']}/approve",
         json={})
    assert call(client, world, "operator_admin", "GET", f"/{engagement.id}/requirements/current")["number"] == 2
