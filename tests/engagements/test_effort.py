"""Pre-sales effort and stage-age reports: exact minutes by person, engagement, customer and quarter (an
engagement still in consulting counts), date filters, who may read them, and stage ages from a timeline
whose every instant the test sets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.engagements.test_engagements_api import (
    ENGAGEMENTS,
    FrozenTime,
    consult,
    error_fields,
    move,
    open_engagement,
    walk,
)

EFFORT = f"{ENGAGEMENTS}/reports/effort"
STAGE_AGE = f"{ENGAGEMENTS}/reports/stage-age"


def report(client, world, path: str = EFFORT, actor: str = "operator_agent", **params: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = world.call(client, "GET", path, actor, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def rows(body: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    return [(r["key"], r["label"], r["minutes"], r["open_minutes"]) for r in body["rows"]]


@pytest.fixture
def effort(client, world):  # type: ignore[no-untyped-def]
    """A: still in consulting, two consultations in 2026-Q3. B: won, one consultation in 2026-Q4."""
    admin, agent = world.users["operator_admin"].id, world.users["operator_agent"].id
    a = open_engagement(client, world, title="智慧园区")
    move(client, world, a["id"], "consulting")
    consult(client, world, a["id"])  # 2026-07-15: admin 90, 王工 (partner) 60, customer 0
    consult(client, world, a["id"], held_on="2026-09-30", kind="call", participants=[
        {"user_id": admin, "side": "provider", "effort_minutes": 30},
        {"name": "李总", "side": "customer"}])
    b = open_engagement(client, world, title="视频会议", customer_org_id=world.orgs["customer_b"].id)
    walk(client, world, b["id"], "won")
    consult(client, world, b["id"], held_on="2026-10-01", kind="workshop", participants=[
        {"user_id": admin, "side": "provider", "effort_minutes": 45},
        {"user_id": agent, "side": "provider", "effort_minutes": 120}])
    return a, b


def test_effort_by_person_and_quarter_counts_every_minute_including_open_engagements(client, world, effort):
    admin, agent = world.users["operator_admin"].id, world.users["operator_agent"].id
    by_person = report(client, world, group_by="person")
    assert rows(by_person) == [(str(admin), "operator_admin", 165, 120), (str(agent), "operator_agent", 120, 0),
                               ("name:王工", "王工", 60, 60)]
    assert by_person["total_minutes"] == 345
    assert by_person["rows"][0]["hours"] == 2.75
    assert (by_person["rows"][0]["consultations"], by_person["rows"][0]["engagements"]) == (3, 2)

    by_quarter = report(client, world, group_by="quarter")
    assert rows(by_quarter) == [("2026-Q3", "2026-Q3", 180, 180), ("2026-Q4", "2026-Q4", 165, 0)]


def test_effort_by_engagement_and_customer_and_between_dates(client, world, effort):
    a, b = effort
    assert rows(report(client, world, group_by="engagement")) == [
        (str(a["id"]), "智慧园区", 180, 180), (str(b["id"]), "视频会议", 165, 0)]
    assert rows(report(client, world, group_by="customer")) == [
        (str(world.orgs["customer_a"].id), "甲客户", 180, 180), (str(world.orgs["customer_b"].id), "乙客户", 165, 0)]
    september = report(client, world, group_by="person", since="2026-09-01", until="2026-09-30")
    assert rows(september) == [(str(world.users["operator_admin"].id), "operator_admin", 30, 30)]
    assert report(client, world, since="2027-01-01")["rows"] == []

    backwards = world.call(client, "GET", EFFORT, "operator_admin", params={"since": "2026-10-01",
                                                                           "until": "2026-09-01"})
    assert backwards.status_code == 422 and error_fields(backwards) == ["since"]
    unknown = world.call(client, "GET", EFFORT, "operator_admin", params={"group_by": "team"})
    assert unknown.status_code == 422 and error_fields(unknown) == ["group_by"]


@pytest.mark.parametrize("path", [EFFORT, STAGE_AGE])
def test_only_the_provider_reads_the_reports(client, world, effort, path):
    world.check(client, "GET", path, {"operator_admin": 200, "operator_agent": 200, "customer_a_admin": 403,
                                      "customer_a_member": 403, "partner_a_admin": 403, "anonymous": 401})


def test_stage_age_reads_the_timeline(client, world, monkeypatch):
    clock = FrozenTime(monkeypatch, datetime(2026, 1, 1, tzinfo=UTC))
    e1 = open_engagement(client, world, title="一")
    e2 = open_engagement(client, world, title="二")
    clock.advance(days=4)
    move(client, world, e2["id"], "lost", reason="预算取消")
    clock.advance(days=2)
    e3 = open_engagement(client, world, title="三", customer_org_id=world.orgs["customer_b"].id)
    clock.advance(days=4)
    move(client, world, e1["id"], "consulting")
    clock.advance(days=5)
    move(client, world, e1["id"], "proposal")
    clock.advance(days=1)
    move(client, world, e2["id"], "closed")
    clock.advance(hours=36)

    body = report(client, world, STAGE_AGE)
    assert [(r["engagement_id"], r["stage"], r["days_in_stage"], r["age_days"]) for r in body["engagements"]] == [
        (e1["id"], "proposal", 2.5, 17.5), (e3["id"], "inquiry", 11.5, 11.5)]
    assert [r["days_by_stage"] for r in body["engagements"]] == [
        {"inquiry": 10.0, "consulting": 5.0, "proposal": 2.5}, {"inquiry": 11.5}]
    assert [(a["stage"], a["average_days"], a["stays"]) for a in body["averages"]] == [
        ("inquiry", 7.0, 2), ("consulting", 5.0, 1), ("lost", 12.0, 1)]


def test_stage_age_adds_up_every_stay_in_a_stage(client, world, monkeypatch):
    clock = FrozenTime(monkeypatch, datetime(2026, 5, 1, 8, 0, tzinfo=UTC))
    e = open_engagement(client, world, title="反复")
    clock.advance(days=2)
    move(client, world, e["id"], "lost", reason="预算冻结")
    clock.advance(days=1)
    move(client, world, e["id"], "inquiry", reason="预算恢复")
    clock.advance(days=4)
    move(client, world, e["id"], "consulting")
    clock.advance(hours=6)

    (row,) = report(client, world, STAGE_AGE)["engagements"]
    assert row["days_by_stage"] == {"inquiry": 6.0, "consulting": 0.25, "lost": 1.0}
    assert list(row["days_by_stage"]) == ["inquiry", "consulting", "lost"]  # in the order of the stages
    assert sum(row["days_by_stage"].values()) == row["age_days"] == 7.25
