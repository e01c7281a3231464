"""Engagements and consultations through the JSON API: opening (by sales staff or by the customer), bad input
naming its field, lists, changes, the stage path with its illegal moves, the permission matrix of every
endpoint, and what customers never see (effort, internal events)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huoban.engagements import service
from huoban.errors import Conflict
from huoban.models import AuditEntry, Deliverable, Engagement, EngagementEvent
from tests.world import World

ENGAGEMENTS = "/api/v1/engagements"
PATH = ["inquiry", "consulting", "proposal", "bidding", "won", "delivering", "accepted", "closed"]


class FrozenTime:
    """The instant the engagement rules believe it is (`huoban.engagements.service.utcnow`)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
        self.now = now
        monkeypatch.setattr(service, "utcnow", lambda: self.now)

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def count(db: Session, model: Any, *where: Any) -> int:
    return db.scalar(select(func.count()).select_from(model).where(*where)) or 0


def error_fields(response: Any) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


def open_engagement(client: TestClient, world: World, actor: str = "operator_admin", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"title": "智慧园区一期", "goal": "想把园区的安防和能耗管起来，预算大概两三百万。"}
    if actor.startswith("operator"):
        body["customer_org_id"] = world.orgs["customer_a"].id
    body.update(fields)
    response = world.call(client, "POST", ENGAGEMENTS, actor, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def move(client: TestClient, world: World, engagement_id: int, stage: str, actor: str = "operator_admin",
         **extra: Any) -> dict[str, Any]:
    response = world.call(client, "POST", f"{ENGAGEMENTS}/{engagement_id}/stage", actor,
                          json={"stage": stage, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def walk(client: TestClient, world: World, engagement_id: int, to: str) -> dict[str, Any]:
    """Move forward along the path up to `to`; past won, the customer first accepts a deliverable (at won, so
    that accepting is the account team's move)."""
    body: dict[str, Any] = {}
    for stage in PATH[1:PATH.index(to) + 1]:
        body = move(client, world, engagement_id, stage)
        if stage == "won" and to != "won":
            accept_a_deliverable(client, world, engagement_id)
    return body


def accept_a_deliverable(client: TestClient, world: World, engagement_id: int) -> None:
    """Through the API: a signed requirement version, and one deliverable submitted and accepted by customer_a."""
    def ok(actor: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = world.call(client, "POST", f"{ENGAGEMENTS}/{engagement_id}{path}", actor, json=body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    version = ok("operator_admin", "/requirements", {"items": [{"title": "平台上线", "priority": "must"}]})
    ok("customer_a_admin", f"/requirements/{version['number']}/sign", {})
    made = ok("operator_admin", "/deliverables", {"title": "平台", "item_keys": ["R-1"],
                                                  "delivered_by_org_id": world.orgs["operator"].id})
    ok("operator_admin", f"/deliverables/{made['id']}/submit", {})
    ok("customer_a_admin", f"/deliverables/{made['id']}/accept", {"score": 5})


def consult(client: TestClient, world: World, engagement_id: int, actor: str = "operator_admin",
            **fields: Any) -> dict[str, Any]:
    body = {"kind": "meeting", "held_on": "2026-07-15", "title": "需求访谈", "minutes": "客户关心能耗。",
            "follow_ups": "下周出方案", "participants": [
                {"user_id": world.users["operator_admin"].id, "side": "provider", "effort_minutes": 90},
                {"name": "王工", "side": "partner", "effort_minutes": 60},
                {"user_id": world.users["customer_a_admin"].id, "side": "customer"},
            ], **fields}
    response = world.call(client, "POST", f"{ENGAGEMENTS}/{engagement_id}/consultations", actor, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def read(client: TestClient, world: World, engagement_id: int, actor: str = "operator_admin") -> dict[str, Any]:
    response = world.call(client, "GET", f"{ENGAGEMENTS}/{engagement_id}", actor)
    assert response.status_code == 200, response.text
    return response.json()


def give_account_manager(db: Session, world: World, user: str = "operator_admin") -> None:
    world.orgs["customer_a"].account_manager_id = world.users[user].id
    db.commit()


# --- opening -------------------------------------------------------------------------------------------


def test_sales_staff_open_an_engagement_with_its_presales_team(client, world, db):
    admin, agent = world.users["operator_admin"], world.users["operator_agent"]
    body = open_engagement(client, world, budget_min_fen=2_000_000_00, budget_max_fen=3_000_000_00,
                           industry="government", region_code="330203", member_ids=[agent.id, agent.id])

    assert body["customer_org_id"] == world.orgs["customer_a"].id
    assert (body["stage"], body["owner_id"], body["currency"]) == ("inquiry", admin.id, "CNY")
    assert (body["budget_min_fen"], body["budget_max_fen"]) == (200_000_000, 300_000_000)
    assert body["members"] == [{"user_id": agent.id, "role": "presales"}]
    assert [(e["kind"], e["to_value"], e["actor_id"]) for e in body["events"]] == [("created", "inquiry", admin.id)]
    assert body["won_at"] is None and body["lost_reason"] is None
    assert count(db, AuditEntry, AuditEntry.action == "engagement.create",
                 AuditEntry.object_id == str(body["id"])) == 1
    assert read(client, world, body["id"], "customer_a_member")["title"] == "智慧园区一期"


def test_a_retry_with_the_same_idempotency_key_opens_one_engagement(client, world, db):
    headers = {"Idempotency-Key": "eng-1"}
    body = {"customer_org_id": world.orgs["customer_a"].id, "title": "数据中台", "goal": "打通数据"}
    first = world.call(client, "POST", ENGAGEMENTS, "operator_admin", json=body, headers=headers)
    again = world.call(client, "POST", ENGAGEMENTS, "operator_admin", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert count(db, Engagement) == 1


def test_a_customer_opens_one_for_its_own_organization_owned_by_its_account_manager(client, world, db):
    no_manager = world.call(client, "POST", ENGAGEMENTS, "customer_a_member", json={"title": "上云", "goal": "想上云"})
    assert no_manager.status_code == 422 and error_fields(no_manager) == ["owner_id"]

    give_account_manager(db, world, "operator_admin")
    body = open_engagement(client, world, "customer_a_member", goal="想把老系统搬上云，预算一百万左右",
                           budget_min_fen=80_000_000, budget_max_fen=120_000_000)
    assert body["customer_org_id"] == world.orgs["customer_a"].id
    assert body["owner_id"] == world.users["operator_admin"].id
    assert body["members"] is None  # the presales team is the provider's business

    other = world.call(client, "POST", ENGAGEMENTS, "customer_a_member",
                       json={"title": "x", "goal": "y", "customer_org_id": world.orgs["customer_b"].id})
    assert other.status_code == 404 and error_fields(other) == ["customer_org_id"]
    chooses_owner = world.call(client, "POST", ENGAGEMENTS, "customer_a_member",
                               json={"title": "x", "goal": "y", "owner_id": world.users["operator_agent"].id})
    assert chooses_owner.status_code == 422 and error_fields(chooses_owner) == ["owner_id"]
    assert count(db, Engagement) == 1


@pytest.mark.parametrize(("fields", "status", "field"), [
    ({"budget_min_fen": 300, "budget_max_fen": 200}, 422, "budget_max_fen"),
    ({"budget_min_fen": -1}, 422, "budget_min_fen"),
    ({"budget_max_fen": "lots"}, 422, "budget_max_fen"),
    ({"region_code": "999999"}, 422, "region_code"),
    ({"region_code": "3302"}, 422, "region_code"),
    ({"customer_org_id": "partner_a"}, 422, "customer_org_id"),
    ({"customer_org_id": "operator"}, 422, "customer_org_id"),
    ({"customer_org_id": 987654}, 422, "customer_org_id"),
    ({"customer_org_id": None}, 422, "customer_org_id"),
    ({"urgency": "high"}, 422, "urgency"),
    ({"title": ""}, 422, "title"),
    ({"goal": "x" * 20001}, 422, "goal"),
    ({"owner_id": "customer_a_admin"}, 422, "owner_id"),
    ({"owner_id": 987654}, 422, "owner_id"),
    ({"member_ids": ["operator_agent", "partner_a_admin"]}, 422, "member_ids.1"),
])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_created(client, world, db, fields, status, field):
    def resolve(value: Any) -> Any:
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, str) and value in world.orgs:
            return world.orgs[value].id
        if isinstance(value, str) and value in world.users:
            return world.users[value].id
        return value

    body = {"customer_org_id": world.orgs["customer_a"].id, "title": "智慧园区", "goal": "安防"}
    body.update({k: resolve(v) for k, v in fields.items()})
    response = world.call(client, "POST", ENGAGEMENTS, "operator_admin", json=body)
    assert response.status_code == status, response.text
    assert field in error_fields(response)
    assert count(db, Engagement) == 0


# --- lists and changes ---------------------------------------------------------------------------------


def test_the_list_filters_by_stage_customer_owner_and_text_and_pages(client, world, db):
    a = open_engagement(client, world, title="智慧园区")
    b = open_engagement(client, world, title="数据中台", goal="打通财务数据", owner_id=world.users["operator_agent"].id)
    c = open_engagement(client, world, title="视频会议", customer_org_id=world.orgs["customer_b"].id)
    move(client, world, b["id"], "consulting")

    def ids(actor: str = "operator_agent", **params: Any) -> list[int]:
        response = world.call(client, "GET", ENGAGEMENTS, actor, params=params)
        assert response.status_code == 200, response.text
        return [e["id"] for e in response.json()["items"]]

    assert ids() == [c["id"], b["id"], a["id"]]
    assert ids(stage="consulting") == [b["id"]]
    assert ids(stage=["inquiry", "consulting"], customer_org_id=world.orgs["customer_a"].id) == [b["id"], a["id"]]
    assert ids(owner_id=world.users["operator_agent"].id) == [b["id"]]
    assert ids(q="财务") == [b["id"]]
    assert ids(q="智慧") == [a["id"]]
    assert ids("customer_a_member") == [b["id"], a["id"]]
    assert ids("customer_b_admin") == [c["id"]]
    assert ids("partner_a_admin") == []
    page = world.call(client, "GET", ENGAGEMENTS, "operator_admin", params={"limit": 2, "offset": 2}).json()
    assert (page["total"], [e["id"] for e in page["items"]]) == (3, [a["id"]])
    bad = world.call(client, "GET", ENGAGEMENTS, "operator_admin", params={"stage": "dreaming"})
    assert bad.status_code == 422 and error_fields(bad) == ["stage.0"]


def test_sales_change_the_engagement_and_customers_do_not_see_the_internal_events(client, world, db):
    body = open_engagement(client, world, budget_min_fen=100, budget_max_fen=200)
    agent = world.users["operator_agent"].id
    patch = world.call(client, "PATCH", f"{ENGAGEMENTS}/{body['id']}", "operator_admin", json={
        "title": "智慧园区一期（含能耗）", "budget_max_fen": 500, "region_code": "330203", "owner_id": agent,
        "member_ids": [agent]})
    assert patch.status_code == 200, patch.text
    changed = patch.json()
    assert (changed["title"], changed["budget_max_fen"], changed["region_code"], changed["owner_id"]) == (
        "智慧园区一期（含能耗）", 500, "330203", agent)
    assert changed["members"] == [{"user_id": agent, "role": "presales"}]
    kinds = [e["kind"] for e in changed["events"]]
    assert kinds == ["created", "members", "title", "budget_max_fen", "region_code", "owner_id"]
    assert count(db, AuditEntry, AuditEntry.action == "engagement.update") == 1

    customer = world.call(client, "GET", f"{ENGAGEMENTS}/{body['id']}", "customer_a_member").json()
    assert [e["kind"] for e in customer["events"]] == ["created", "title", "budget_max_fen", "region_code"]
    assert all("is_internal" not in e for e in customer["events"])
    assert count(db, EngagementEvent, EngagementEvent.is_internal.is_(True)) == 2

    for fields, field in [({"budget_min_fen": 501}, "budget_max_fen"), ({"title": None}, "title"),
                          ({"region_code": "999999"}, "region_code"), ({"stage": "won"}, "stage"),
                          ({"owner_id": world.users["customer_a_admin"].id}, "owner_id")]:
        refused = world.call(client, "PATCH", f"{ENGAGEMENTS}/{body['id']}", "operator_admin", json=fields)
        assert refused.status_code == 422 and error_fields(refused) == [field], refused.text
    assert read(client, world, body["id"])["budget_min_fen"] == 100


# --- stages --------------------------------------------------------------------------------------------


def test_an_engagement_walks_the_whole_path_with_every_move_on_the_timeline(client, world, db, monkeypatch):
    clock = FrozenTime(monkeypatch, datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    body = open_engagement(client, world)
    stamps = {}
    for stage in PATH[1:]:
        at = clock.advance(days=3)
        stamps[stage] = at
        moved = move(client, world, body["id"], stage, reason=f"到 {stage}")
        assert moved["stage"] == stage
        if stage == "won":
            accept_a_deliverable(client, world, body["id"])
        assert datetime.fromisoformat(moved["stage_changed_at"]) == at
    final = read(client, world, body["id"])
    assert datetime.fromisoformat(final["won_at"]) == stamps["won"]
    stage_events = [(e["from_value"], e["to_value"], e["body"]) for e in final["events"] if e["kind"] == "stage"]
    assert stage_events == [(a, b, f"到 {b}") for a, b in zip(PATH, PATH[1:], strict=False)]
    assert count(db, AuditEntry, AuditEntry.action == "engagement.stage") == len(PATH) - 1


@pytest.mark.parametrize(("reach", "target"), [
    ("inquiry", "inquiry"),
    ("inquiry", "proposal"),
    ("inquiry", "won"),
    ("consulting", "inquiry"),
    ("bidding", "proposal"),
    ("bidding", "closed"),
    ("won", "lost"),
    ("won", "bidding"),
    ("delivering", "lost"),
    ("accepted", "delivering"),
    ("closed", "inquiry"),
    ("closed", "lost"),
])
def test_illegal_moves_are_a_409_naming_stage_and_change_nothing(client, world, db, reach, target):
    body = open_engagement(client, world)
    walk(client, world, body["id"], reach)
    response = world.call(client, "POST", f"{ENGAGEMENTS}/{body['id']}/stage", "operator_admin",
                          json={"stage": target, "reason": "试试"})
    assert response.status_code == 409, response.text
    assert error_fields(response) == ["stage"]
    assert read(client, world, body["id"])["stage"] == reach


def test_lost_needs_a_reason_and_a_lost_engagement_is_closed_or_reopened(client, world, db):
    body = open_engagement(client, world)
    move(client, world, body["id"], "consulting")
    for extra in ({}, {"reason": "   "}, {"reason": None}):
        refused = world.call(client, "POST", f"{ENGAGEMENTS}/{body['id']}/stage", "operator_admin",
                             json={"stage": "lost", **extra})
        assert refused.status_code == 422 and error_fields(refused) == ["reason"]
    lost = move(client, world, body["id"], "lost", reason="客户预算冻结")
    assert (lost["stage"], lost["lost_reason"]) == ("lost", "客户预算冻结")
    reopened = move(client, world, body["id"], "inquiry", reason="预算恢复")
    assert (reopened["stage"], reopened["lost_reason"]) == ("inquiry", None)
    move(client, world, body["id"], "lost", reason="选了别家")
    closed = move(client, world, body["id"], "closed")
    assert closed["stage"] == "closed"
    assert [e["to_value"] for e in closed["events"] if e["kind"] == "stage"] == [
        "consulting", "lost", "inquiry", "lost", "closed"]
    unknown = world.call(client, "POST", f"{ENGAGEMENTS}/{body['id']}/stage", "operator_admin",
                         json={"stage": "paused"})
    assert unknown.status_code == 422 and error_fields(unknown) == ["stage"]


def test_mark_accepted_moves_a_delivering_engagement_and_refuses_other_stages(client, world, db):
    body = open_engagement(client, world)
    walk(client, world, body["id"], "won")
    engagement = db.get_one(Engagement, body["id"])
    with pytest.raises(Conflict):
        service.mark_accepted(db, None, engagement)
    move(client, world, body["id"], "delivering")
    db.refresh(engagement)
    with pytest.raises(Conflict, match="no deliverables"):  # nothing was graded: not accepted
        service.mark_accepted(db, None, engagement)
    db.add(Deliverable(engagement_id=body["id"], title="平台上线", item_keys=["R-1"],
                       delivered_by_org_id=world.orgs["operator"].id, status="accepted"))
    db.flush()
    assert service.mark_accepted(db, None, engagement).stage == "accepted"
    assert service.mark_accepted(db, None, engagement).stage == "accepted"  # a second call changes nothing
    db.commit()
    events = [(e["kind"], e["from_value"], e["to_value"]) for e in read(client, world, body["id"])["events"]]
    assert events[-1] == ("stage", "delivering", "accepted")
    assert sum(1 for e in events if e[2] == "accepted") == 1


def test_accepting_by_hand_waits_for_every_deliverable(client, world, db):
    body = open_engagement(client, world)
    walk(client, world, body["id"], "delivering")
    deliverable = Deliverable(engagement_id=body["id"], title="平台上线", item_keys=["R-1"],
                              delivered_by_org_id=world.orgs["operator"].id, status="submitted")
    db.add(deliverable)
    db.commit()
    refused = world.call(client, "POST", f"{ENGAGEMENTS}/{body['id']}/stage", "operator_admin",
                         json={"stage": "accepted"})
    assert refused.status_code == 409 and error_fields(refused) == ["stage"]
    deliverable.status = "accepted"
    db.commit()
    assert move(client, world, body["id"], "accepted")["stage"] == "accepted"


# --- consultations -------------------------------------------------------------------------------------


def test_a_consultation_records_both_sides_and_effort_and_stays_internal(client, world, db):
    body = open_engagement(client, world)
    made = consult(client, world, body["id"])
    assert made["effort_minutes"] == 150
    assert [(p["name"], p["side"], p["effort_minutes"]) for p in made["participants"]] == [
        ("operator_admin", "provider", 90), ("王工", "partner", 60), ("customer_a_admin", "customer", 0)]
    assert (made["kind"], made["held_on"], made["follow_ups"]) == ("meeting", "2026-07-15", "下周出方案")
    assert count(db, AuditEntry, AuditEntry.action == "engagement.consultation") == 1
    assert read(client, world, body["id"])["events"][-1]["kind"] == "consultation"

    # Minutes, follow-ups and who attended are the provider's internal record: customers get 404 and no trace.
    path = f"{ENGAGEMENTS}/{body['id']}/consultations"
    for actor in ("customer_a_admin", "customer_a_member"):
        one = world.call(client, "GET", f"{path}/{made['id']}", actor)
        listed = world.call(client, "GET", path, actor)
        assert one.status_code == listed.status_code == 404
        assert "客户关心能耗" not in one.text + listed.text
        seen = read(client, world, body["id"], actor)
        assert [e["kind"] for e in seen["events"]] == ["created"]
        assert "需求访谈" not in str(seen)
    event = db.scalar(select(EngagementEvent).where(EngagementEvent.kind == "consultation"))
    assert event is not None and event.is_internal
    operator_view = world.call(client, "GET", path, "operator_agent").json()
    assert operator_view["items"][0]["effort_minutes"] == 150
    assert operator_view["items"][0]["minutes"] == "客户关心能耗。"


def test_customers_see_neither_the_presales_team_nor_why_the_engagement_was_lost(client, world, db):
    agent = world.users["operator_agent"]
    body = open_engagement(client, world, member_ids=[agent.id])
    move(client, world, body["id"], "lost", reason="客户预算被砍，竞品低价")
    operator = read(client, world, body["id"])
    assert operator["members"] == [{"user_id": agent.id, "role": "presales"}]
    assert operator["lost_reason"] == "客户预算被砍，竞品低价"
    assert operator["events"][-1]["body"] == "客户预算被砍，竞品低价"
    for actor in ("customer_a_admin", "customer_a_member"):
        seen = read(client, world, body["id"], actor)
        assert seen["stage"] == "lost" and seen["members"] is None and seen["lost_reason"] is None
        assert [(e["kind"], e["to_value"], e["body"]) for e in seen["events"]] == [
            ("created", "inquiry", None), ("stage", "lost", None)]
        listed = world.call(client, "GET", ENGAGEMENTS, actor).json()["items"]
        assert [(e["id"], e["lost_reason"]) for e in listed] == [(body["id"], None)]
        assert "竞品低价" not in world.call(client, "GET", f"{ENGAGEMENTS}/{body['id']}", actor).text
    # the stored event keeps its reason: the customer's view was a copy
    assert db.scalar(select(EngagementEvent.body).where(EngagementEvent.to_value == "lost")) == "客户预算被砍，竞品低价"


@pytest.mark.parametrize(("fields", "field"), [
    ({"participants": [{"name": "李总", "side": "customer", "effort_minutes": 30}]}, "participants.0.effort_minutes"),
    ({"participants": [{"name": "王工", "side": "provider", "effort_minutes": -5}]}, "participants.0.effort_minutes"),
    ({"participants": [{"side": "provider", "effort_minutes": 5}]}, "participants.0.name"),
    ({"participants": [{"user_id": 987654, "side": "provider"}]}, "participants.0.user_id"),
    ({"participants": [{"name": "王工", "side": "vendor"}]}, "participants.0.side"),
    ({"kind": "dinner"}, "kind"),
    ({"held_on": "2026-13-01"}, "held_on"),
    ({"held_on": "0001-01-01"}, "held_on"),
    ({"held_on": "9999-12-31"}, "held_on"),
    ({"held_on": "1999-12-31"}, "held_on"),
    ({"effort": 5}, "effort"),
])
def test_bad_consultations_are_refused_naming_the_field(client, world, db, fields, field):
    body = open_engagement(client, world)
    payload = {"kind": "call", "held_on": "2026-07-01", "title": "电话沟通", **fields}
    response = world.call(client, "POST", f"{ENGAGEMENTS}/{body['id']}/consultations", "operator_admin",
                          json=payload)
    assert response.status_code == 422, response.text
    assert error_fields(response) == [field]


@pytest.mark.parametrize(("who", "side", "field"), [
    ("customer_b_admin", "customer", "participants.0.user_id"),  # another customer's person
    ("customer_b_admin", "provider", "participants.0.user_id"),
    ("customer_a_admin", "provider", "participants.0.side"),  # this customer's person passed off as the provider
    ("operator_agent", "customer", "participants.0.side"),
    ("operator_agent", "partner", "participants.0.side"),
    ("partner_a_engineer", "provider", "participants.0.side"),
])
def test_a_participant_with_an_account_sits_on_the_side_of_its_organization(client, world, db, who, side, field):
    body = open_engagement(client, world)
    payload = {"kind": "call", "held_on": "2026-07-01", "title": "电话沟通",
               "participants": [{"user_id": world.users[who].id, "side": side}]}
    response = world.call(client, "POST", f"{ENGAGEMENTS}/{body['id']}/consultations", "operator_admin",
                          json=payload)
    assert response.status_code == 422, response.text
    assert error_fields(response) == [field]
    assert count(db, AuditEntry, AuditEntry.action == "engagement.consultation") == 0


def test_participants_of_the_provider_a_partner_and_this_customer_are_accepted(client, world, db):
    body = open_engagement(client, world)
    made = consult(client, world, body["id"], participants=[
        {"user_id": world.users["operator_agent"].id, "side": "provider", "effort_minutes": 30},
        {"user_id": world.users["partner_a_engineer"].id, "side": "partner", "effort_minutes": 45},
        {"user_id": world.users["customer_a_member"].id, "side": "customer"}])
    assert [(p["name"], p["side"]) for p in made["participants"]] == [
        ("operator_agent", "provider"), ("partner_a_engineer", "partner"), ("customer_a_member", "customer")]


# --- the permission matrix -----------------------------------------------------------------------------

READERS = {"operator_admin": 200, "operator_agent": 200, "customer_a_admin": 200, "customer_a_member": 200,
           "customer_b_admin": 404, "partner_a_admin": 404, "partner_b_admin": 404, "anonymous": 401}
# operator_admin last: its write succeeds and changes the row the others were refused.
WRITERS = {"operator_agent": 403, "customer_a_member": 403, "customer_a_admin": 403, "customer_b_admin": 404,
           "partner_a_admin": 404, "anonymous": 401}


def test_every_endpoint_applies_the_permission_matrix(client, world, db):
    body = open_engagement(client, world)
    consultation = consult(client, world, body["id"])
    one = f"{ENGAGEMENTS}/{body['id']}"

    world.check(client, "GET", one, READERS)
    internal = {**READERS, "customer_a_admin": 404, "customer_a_member": 404}
    world.check(client, "GET", f"{one}/consultations", internal)
    world.check(client, "GET", f"{one}/consultations/{consultation['id']}", internal)
    world.check(client, "GET", f"{one}/consultations/987654", {"operator_admin": 404, "customer_a_admin": 404})
    world.check(client, "GET", ENGAGEMENTS, {"operator_agent": 200, "customer_b_admin": 200, "partner_a_admin": 200,
                                             "anonymous": 401})
    world.check(client, "PATCH", one, {**WRITERS, "operator_admin": 200}, json={"title": "改名"})
    world.check(client, "POST", f"{one}/stage", {**WRITERS, "operator_admin": 200}, json={"stage": "consulting"})
    world.check(client, "POST", f"{one}/consultations", {**WRITERS, "operator_admin": 201},
                json={"kind": "call", "held_on": "2026-07-02", "title": "回访"})
    world.check(client, "POST", ENGAGEMENTS, {"operator_agent": 403, "partner_a_admin": 403, "anonymous": 401,
                                             "customer_b_admin": 404, "operator_admin": 201},
                json={"customer_org_id": world.orgs["customer_a"].id, "title": "x", "goal": "y"})
    world.check(client, "GET", f"{ENGAGEMENTS}/987654", {"operator_admin": 404})

    final = read(client, world, body["id"])
    assert (final["title"], final["stage"]) == ("改名", "consulting")
    assert count(db, EngagementEvent, EngagementEvent.engagement_id == body["id"],
                 EngagementEvent.kind == "stage") == 1


def test_a_retried_consultation_is_recorded_once_and_a_closed_engagement_takes_none(client, world, db):
    body = open_engagement(client, world)
    path = f"{ENGAGEMENTS}/{body['id']}/consultations"
    payload = {"kind": "site_visit", "held_on": "2026-08-03", "title": "现场勘查",
               "participants": [{"name": "张工", "side": "provider", "effort_minutes": 240}]}
    headers = {"Idempotency-Key": "visit-1"}
    first = world.call(client, "POST", path, "operator_admin", json=payload, headers=headers)
    again = world.call(client, "POST", path, "operator_admin", json=payload, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.headers["Idempotent-Replay"] == "true"
    assert world.call(client, "GET", path, "operator_admin").json()["total"] == 1

    move(client, world, body["id"], "lost", reason="预算取消")
    move(client, world, body["id"], "closed")
    closed = world.call(client, "POST", path, "operator_admin", json={**payload, "title": "回访"})
    assert closed.status_code == 409 and error_fields(closed) == ["stage"]


# --- acceptance ----------------------------------------------------------------------------------------


def test_an_engagement_without_deliverables_is_not_accepted_nor_closed_from_accepted(client, world, db):
    body = open_engagement(client, world)
    for stage in PATH[1:PATH.index("delivering") + 1]:
        move(client, world, body["id"], stage)
    refused = world.call(client, "POST", f"{ENGAGEMENTS}/{body['id']}/stage", "operator_admin",
                         json={"stage": "accepted"})
    assert refused.status_code == 409 and error_fields(refused) == ["stage"]
    assert "no deliverables" in refused.json()["detail"]
    assert read(client, world, body["id"])["stage"] == "delivering"

    engagement = db.get_one(Engagement, body["id"])
    engagement.stage = "accepted"  # a row from before the rule: closing still checks it
    db.commit()
    refused = world.call(client, "POST", f"{ENGAGEMENTS}/{body['id']}/stage", "operator_admin",
                         json={"stage": "closed"})
    assert refused.status_code == 409 and error_fields(refused) == ["stage"]
    assert read(client, world, body["id"])["stage"] == "accepted"


# --- internal notes ------------------------------------------------------------------------------------


def test_an_internal_note_is_on_the_providers_timeline_only(client, world, db):
    body = open_engagement(client, world)
    path = f"{ENGAGEMENTS}/{body['id']}/notes"
    headers = {"Idempotency-Key": "note-1"}
    first = world.call(client, "POST", path, "operator_admin", json={"body": "  客户预算其实只有一半，注意报价。 "},
                       headers=headers)
    assert first.status_code == 201, first.text
    note = first.json()
    assert (note["kind"], note["body"], note["actor_id"]) == ("note", "客户预算其实只有一半，注意报价。",
                                                              world.users["operator_admin"].id)
    again = world.call(client, "POST", path, "operator_admin", json={"body": "  客户预算其实只有一半，注意报价。 "},
                       headers=headers)
    assert again.status_code == 201 and again.json() == note and again.headers["Idempotent-Replay"] == "true"
    assert count(db, EngagementEvent, EngagementEvent.kind == "note") == 1
    assert count(db, AuditEntry, AuditEntry.action == "engagement.note") == 1

    provider = read(client, world, body["id"])
    assert [(e["kind"], e["body"]) for e in provider["events"]][-1] == ("note", note["body"])
    for customer in ("customer_a_admin", "customer_a_member"):
        response = world.call(client, "GET", f"{ENGAGEMENTS}/{body['id']}", customer)
        assert response.status_code == 200
        assert [e["kind"] for e in response.json()["events"]] == ["created"]
        assert "预算其实" not in response.text
        listed = world.call(client, "GET", ENGAGEMENTS, customer)
        assert "预算其实" not in listed.text


def test_who_may_write_a_note_and_its_length(client, world, db):
    body = open_engagement(client, world)
    path = f"{ENGAGEMENTS}/{body['id']}/notes"
    world.check(client, "POST", path, {**WRITERS, "operator_admin": 201}, json={"body": "跟进"})
    world.check(client, "POST", f"{ENGAGEMENTS}/987654/notes", {"operator_admin": 404, "customer_a_admin": 404},
                json={"body": "跟进"})
    for text in ("", "   \n ", "字" * 4001):
        refused = world.call(client, "POST", path, "operator_admin", json={"body": text})
        assert refused.status_code == 422 and error_fields(refused) == ["body"], refused.text
    refused = world.call(client, "POST", path, "operator_admin", json={})
    assert refused.status_code == 422 and error_fields(refused) == ["body"]
    longest = world.call(client, "POST", path, "operator_admin", json={"body": f"  {'字' * 4000}  "})
    assert longest.status_code == 201 and len(longest.json()["body"]) == 4000
    assert count(db, EngagementEvent, EngagementEvent.kind == "note") == 2
