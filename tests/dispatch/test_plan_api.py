"""Dispatch rounds through the API: skills, certifications (and their expiry), leave, capacity and busy engineers
shape the plan; each proposal explains itself; accepting re-checks; the dispatcher's change (override) and
rejection; later rounds supersede pending proposals; a dry run stores nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from huoban.dispatch.travel import great_circle_km
from huoban.models import (
    DispatchPlan,
    DispatchProposal,
    EngineerAbsence,
    EngineerCertification,
    Region,
    WorkOrderEvent,
)
from tests.dispatch.factories import (
    HAISHU,
    LICHENG,
    PLANS,
    PROPOSALS,
    QINGZHOU,
    SHOUGUANG,
    WORK_ORDERS,
    FrozenTime,
    act,
    calendar_id,
    create_engineer,
    create_order,
    cst,
    error_fields,
    ok,
    proposal_for,
    run_plan,
)
from tests.pages import sign_in

NOW = cst(2026, 3, 10, 10, 0)  # a Tuesday


def visit(client, world, **body):  # type: ignore[no-untyped-def]
    """A planned visit in Shouguang for customer B, due at 14:00 the same day."""
    fields = {"customer_org_id": world.orgs["customer_b"].id, "title": "核心交换机巡检", "site_region_code": SHOUGUANG,
              "arrival_due_at": "2026-03-10T14:00:00+08:00", "required_skills": ["network"], **body}
    return create_order(client, world, **fields)


def accept(client, world, proposal_id, actor="operator_dispatcher", status=200):  # type: ignore[no-untyped-def]
    response = world.call(client, "POST", f"{PROPOSALS}/{proposal_id}/accept", actor)
    assert response.status_code == status, response.text
    return response


def test_skills_decide_and_the_proposal_explains_itself(client, world, monkeypatch):
    FrozenTime(monkeypatch, NOW)
    create_engineer(client, world, "partner_a_engineer", skills=["network"])  # next door, wrong skill
    storage = create_engineer(client, world, "partner_b_engineer", skills=["storage", "network"],
                              home_region_code=QINGZHOU)
    order = visit(client, world, required_skills=["storage"])

    plan = run_plan(client, world)
    assert plan["id"] is not None and plan["summary"]["orders"] == 1 and plan["summary"]["engineers"] == 2
    p = proposal_for(plan, order["id"])
    assert (p["engineer_id"], p["engineer"], p["organization"]) == (storage["id"], "partner_b_engineer", "乙伙伴")
    assert p["status"] == "pending" and p["on_time"] is True and p["county"] == "寿光市"
    e = p["explanation"]
    assert e["skills_matched"] == ["storage"] and e["qualified_count"] == 1 and e["runner_up"] is None
    assert e["band"] == "intercity" and e["distance_km"] == p["distance_km"] and 20 < e["distance_km"] < 80
    assert e["travel_minutes"] == p["travel_minutes"] and e["late_minutes"] == 0 and e["reasons"] == []
    arrival = datetime.fromisoformat(e["arrival_at"])
    assert arrival == datetime.fromisoformat(p["arrival_at"])
    assert (arrival - NOW).total_seconds() == p["travel_minutes"] * 60
    assert datetime.fromisoformat(e["due_at"]) == cst(2026, 3, 10, 14)
    assert plan["summary"]["on_time"] == 1 and plan["summary"]["travel_hours"] == round(p["travel_minutes"] / 60, 2)

    stored = ok(world.call(client, "GET", f"{PLANS}/{plan['id']}", "operator_dispatcher"))
    assert stored["proposals"][0]["explanation"] == e


def test_the_runner_up_and_a_late_arrival_are_explained(client, world, monkeypatch):
    FrozenTime(monkeypatch, NOW)
    near = create_engineer(client, world, "partner_a_engineer", home_region_code=QINGZHOU)
    far = create_engineer(client, world, "partner_b_engineer", home_region_code=LICHENG)
    order = visit(client, world, arrival_due_at="2026-03-10T10:30:00+08:00")
    p = proposal_for(run_plan(client, world), order["id"])
    assert p["engineer_id"] == near["id"] and p["on_time"] is False and p["late_minutes"] > 0
    assert p["explanation"]["reasons"] == [f"late:{p['late_minutes']}"]
    runner = p["explanation"]["runner_up"]
    assert runner["engineer_id"] == far["id"] and runner["travel_minutes"] > p["travel_minutes"]
    assert p["explanation"]["qualified_count"] == 2


def test_an_expired_certification_does_not_qualify(client, world, monkeypatch):
    FrozenTime(monkeypatch, NOW)
    expired = create_engineer(client, world, "partner_a_engineer", skills=["power"],
                              certifications=[{"name": "电工证", "number": "T-1", "expires_on": "2026-03-01"}])
    order = visit(client, world, required_skills=["power"], required_certification="电工证")
    p = proposal_for(run_plan(client, world), order["id"])
    assert p["engineer_id"] is None and p["explanation"]["reasons"] == ["certification_expired:电工证"]
    assert p["explanation"]["qualified_count"] == 0

    valid = create_engineer(client, world, "partner_b_engineer", skills=["power"], home_region_code=LICHENG,
                            certifications=[{"name": "电工证", "expires_on": "2028-12-31"}])
    p = proposal_for(run_plan(client, world), order["id"])
    assert p["engineer_id"] == valid["id"] and p["explanation"]["certification"] == "电工证"
    # renewing the near engineer's certificate makes them the better choice
    ok(world.call(client, "PATCH", f"/api/v1/dispatch/engineers/{expired['id']}", "partner_a_admin",
                  json={"certifications": [{"name": "电工证", "expires_on": "2029-03-01"}]}))
    assert proposal_for(run_plan(client, world), order["id"])["engineer_id"] == expired["id"]


def test_leave_keeps_an_engineer_out_until_it_ends(client, world, monkeypatch):
    FrozenTime(monkeypatch, NOW)
    near = create_engineer(client, world, "partner_a_engineer", home_region_code=SHOUGUANG)
    far = create_engineer(client, world, "partner_b_engineer", home_region_code=LICHENG)
    leave = ok(world.call(client, "POST", f"/api/v1/dispatch/engineers/{near['id']}/absences", "partner_a_admin",
                          json={"kind": "leave", "starts_at": "2026-03-09T00:00:00+08:00",
                                "ends_at": "2026-03-12T00:00:00+08:00", "reason": "年假"}), 201)
    order = visit(client, world)
    assert proposal_for(run_plan(client, world), order["id"])["engineer_id"] == far["id"]
    # a visit after the leave goes to the near engineer, who is free again by then
    later = visit(client, world, earliest_start_at="2026-03-12T09:00:00+08:00",
                  arrival_due_at="2026-03-12T12:00:00+08:00")
    plan = run_plan(client, world)
    assert proposal_for(plan, later["id"])["engineer_id"] == near["id"]
    assert world.call(client, "DELETE", f"/api/v1/dispatch/engineers/{near['id']}/absences/{leave['id']}",
                      "partner_a_admin").status_code == 204
    assert proposal_for(run_plan(client, world), order["id"])["engineer_id"] == near["id"]


def test_an_absence_stored_to_the_end_of_time_leaves_the_engineer_out_and_planning_works(client, world, db,
                                                                                         monkeypatch):
    FrozenTime(monkeypatch, NOW)
    near = create_engineer(client, world, "partner_a_engineer", home_region_code=SHOUGUANG)
    far = create_engineer(client, world, "partner_b_engineer", home_region_code=LICHENG)
    # a row from before absences were bounded (the API now refuses it)
    db.add(EngineerAbsence(engineer_id=near["id"], kind="leave", starts_at=datetime(2026, 3, 1, tzinfo=UTC),
                           ends_at=datetime(9999, 12, 30, tzinfo=UTC)))
    db.commit()
    order = visit(client, world)
    plan = run_plan(client, world)
    assert plan["summary"]["engineers"] == 1
    assert proposal_for(plan, order["id"])["engineer_id"] == far["id"]
    assigned = world.call(client, "POST", f"{WORK_ORDERS}/{order['id']}/assign", "operator_dispatcher",
                          json={"engineer_id": near["id"]})
    assert assigned.status_code == 409 and error_fields(assigned) == ["engineer_id"]


def test_capacity_and_busy_engineers(client, world, monkeypatch):
    time = FrozenTime(monkeypatch, NOW)
    near = create_engineer(client, world, "partner_a_engineer", max_orders_per_day=1)
    far = create_engineer(client, world, "partner_b_engineer", home_region_code=LICHENG)
    first = visit(client, world, title="第一单")
    accept(client, world, proposal_for(run_plan(client, world), first["id"])["id"])
    second = visit(client, world, title="第二单")
    plan = run_plan(client, world)
    assert plan["summary"]["engineers"] == 2  # holding an active order is no reason to be left out ...
    assert proposal_for(plan, second["id"])["engineer_id"] == far["id"]  # ... but the day's one order is used

    for step, body in (("accept", {}), ("start-travel", {}), ("check-in", {}), ("check-out", {"notes": "完成"})):
        act(client, world, first["id"], step, "partner_a_engineer", **body)
    plan = run_plan(client, world)  # free again, but the day's one order is used up
    assert plan["summary"]["engineers"] == 2
    assert proposal_for(plan, second["id"])["engineer_id"] == far["id"]
    assert proposal_for(plan, second["id"])["explanation"]["qualified_count"] == 1
    time.set(cst(2026, 3, 11, 8, 0))  # a new day in China
    assert proposal_for(run_plan(client, world), second["id"])["engineer_id"] == near["id"]


def _at_a_job_in_shouguang(client, world, time, step):  # type: ignore[no-untyped-def]
    """partner_a_engineer, based in Ningbo, assigned a four-hour job in Shouguang and, at the planned time,
    travelling to it (`step` "start-travel") or on site (then "check-in" too). Returns the engineer, the job
    and the end of the job's planned time on site."""
    engineer = create_engineer(client, world, "partner_a_engineer", home_region_code=HAISHU)
    job = visit(client, world, title="寿光现场", estimated_minutes=240, arrival_due_at=None)
    booked = act(client, world, job["id"], "assign", "operator_dispatcher", engineer_id=engineer["id"])
    arrival = datetime.fromisoformat(booked["planned_arrival_at"])
    act(client, world, job["id"], "accept", "partner_a_engineer")
    time.set(arrival - timedelta(minutes=booked["travel_minutes"]))
    act(client, world, job["id"], "start-travel", "partner_a_engineer")
    if step == "check-in":
        time.set(arrival)
        act(client, world, job["id"], "check-in", "partner_a_engineer")
    return engineer, job, arrival + timedelta(minutes=240)


def _site_km(db, a, b):  # type: ignore[no-untyped-def]
    one, two = db.get(Region, a), db.get(Region, b)
    return round(great_circle_km(one.longitude, one.latitude, two.longitude, two.latitude), 1)


def test_an_engineer_on_site_sets_off_from_the_site_when_the_job_ends(client, world, db, monkeypatch):
    time = FrozenTime(monkeypatch, NOW)
    engineer, job, job_end = _at_a_job_in_shouguang(client, world, time, "check-in")
    jinan = create_engineer(client, world, "partner_b_engineer", home_region_code=LICHENG)
    later = visit(client, world, title="青州巡检", site_region_code=QINGZHOU,
                  arrival_due_at=(job_end + timedelta(hours=4)).isoformat())

    plan = run_plan(client, world)
    assert plan["summary"]["engineers"] == 2  # at a job is no reason to be left out
    p = proposal_for(plan, later["id"])
    assert p["engineer_id"] == engineer["id"] and p["on_time"] is True
    # from the Shouguang site next door, not from home in Ningbo 800 km away
    assert p["distance_km"] == _site_km(db, SHOUGUANG, QINGZHOU) < 60
    assert datetime.fromisoformat(p["arrival_at"]) == job_end + timedelta(minutes=p["travel_minutes"])
    e = p["explanation"]
    assert e["from_work_order_id"] == job["id"] and e["reasons"] == [f"from_site:{job['id']}"]
    assert e["distance_km"] == p["distance_km"] and e["travel_minutes"] == p["travel_minutes"]
    assert (e["runner_up"]["engineer_id"], e["runner_up"]["from_work_order_id"]) == (jinan["id"], None)
    assert e["runner_up"]["distance_km"] == _site_km(db, LICHENG, QINGZHOU)

    # the pick list shows the same trip
    picks = ok(world.call(client, "GET", f"{WORK_ORDERS}/{later['id']}/candidates", "operator_dispatcher"))
    assert (picks[0]["engineer_id"], picks[0]["from_work_order_id"]) == (engineer["id"], job["id"])
    assert (picks[0]["distance_km"], picks[0]["arrival_at"]) == (p["distance_km"], p["arrival_at"])

    # an order due before the job can end goes to the engineer who can be there in time
    urgent = visit(client, world, title="青州抢修", site_region_code=QINGZHOU,
                   arrival_due_at=(job_end - timedelta(minutes=15)).isoformat())
    plan = run_plan(client, world)
    assert proposal_for(plan, urgent["id"])["engineer_id"] == jinan["id"]
    assert proposal_for(plan, urgent["id"])["on_time"] is True
    p = proposal_for(plan, later["id"])
    assert p["engineer_id"] == engineer["id"]
    client.cookies.clear()  # the dispatcher's board says it in words
    sign_in(client, world.users["operator_dispatcher"].email)
    assert f"在工单 {job['id']} 的现场完工后从该现场出发" in client.get("/dispatch").text
    client.cookies.clear()

    # accepting books the trip the proposal showed: from the site, after the job
    accept(client, world, p["id"])
    order = ok(world.call(client, "GET", f"{WORK_ORDERS}/{later['id']}", "operator_dispatcher"))
    assert (order["status"], order["engineer_id"]) == ("assigned", engineer["id"])
    assert datetime.fromisoformat(order["planned_arrival_at"]) == datetime.fromisoformat(p["arrival_at"])
    assert (order["distance_km"], order["travel_minutes"]) == (p["distance_km"], p["travel_minutes"])


def test_a_travelling_engineer_plans_from_the_destination(client, world, db, monkeypatch):
    time = FrozenTime(monkeypatch, NOW)
    engineer, job, job_end = _at_a_job_in_shouguang(client, world, time, "start-travel")
    soon = visit(client, world, title="青州抢修", site_region_code=QINGZHOU,
                 arrival_due_at=(job_end - timedelta(minutes=30)).isoformat())
    after = visit(client, world, title="青州巡检", site_region_code=QINGZHOU,
                  arrival_due_at=(job_end + timedelta(hours=4)).isoformat())

    plan = run_plan(client, world)
    p = proposal_for(plan, after["id"])
    assert p["engineer_id"] == engineer["id"] and p["on_time"] is True
    assert p["distance_km"] == _site_km(db, SHOUGUANG, QINGZHOU)
    assert datetime.fromisoformat(p["arrival_at"]) == job_end + timedelta(minutes=p["travel_minutes"])
    assert p["explanation"]["reasons"] == [f"from_site:{job['id']}"]
    # the engineer cannot be in Qingzhou before the Shouguang job ends: the urgent order waits, and says why
    s = proposal_for(plan, soon["id"])
    assert s["engineer_id"] is None and s["explanation"]["reasons"] == ["engineers_taken:1"]

    assigned = act(client, world, after["id"], "assign", "operator_dispatcher", engineer_id=engineer["id"])
    assert datetime.fromisoformat(assigned["planned_arrival_at"]) == datetime.fromisoformat(p["arrival_at"])
    assert assigned["distance_km"] == p["distance_km"]
    # after the job comes the booked visit: the urgent order has nobody
    s = proposal_for(run_plan(client, world), soon["id"])
    assert s["engineer_id"] is None and s["explanation"]["reasons"] == ["on_leave_or_busy"]
    clash = world.call(client, "POST", f"{WORK_ORDERS}/{soon['id']}/assign", "operator_dispatcher",
                       json={"engineer_id": engineer["id"]})
    assert clash.status_code == 409 and f"already holds work order {after['id']}" in clash.json()["detail"]

    # once the job is done, trips are estimated from home (Ningbo) again
    time.set(job_end - timedelta(minutes=240))
    act(client, world, job["id"], "check-in", "partner_a_engineer")
    act(client, world, job["id"], "check-out", "partner_a_engineer", notes="完成")
    next_day = visit(client, world, title="次日巡检", site_region_code=QINGZHOU,
                     earliest_start_at=(job_end + timedelta(days=1)).isoformat(),
                     arrival_due_at=(job_end + timedelta(days=2)).isoformat())
    picks = ok(world.call(client, "GET", f"{WORK_ORDERS}/{next_day['id']}/candidates", "operator_dispatcher"))
    assert [(c["engineer_id"], c["from_work_order_id"]) for c in picks] == [(engineer["id"], None)]
    assert picks[0]["distance_km"] == _site_km(db, HAISHU, QINGZHOU)


def test_an_engineer_with_a_visit_next_week_takes_todays_order(client, world, db, monkeypatch):
    FrozenTime(monkeypatch, NOW)
    engineer = create_engineer(client, world, "partner_a_engineer")
    create_engineer(client, world, "partner_b_engineer", home_region_code=LICHENG)
    next_week = visit(client, world, title="下周巡检", earliest_start_at="2026-03-17T09:00:00+08:00",
                      arrival_due_at="2026-03-17T12:00:00+08:00")
    act(client, world, next_week["id"], "assign", "operator_dispatcher", engineer_id=engineer["id"])
    today = visit(client, world, title="今日抢修")
    assert proposal_for(run_plan(client, world), today["id"])["engineer_id"] == engineer["id"]
    assigned = act(client, world, today["id"], "assign", "operator_dispatcher", engineer_id=engineer["id"])
    assert (assigned["status"], assigned["engineer_id"]) == ("assigned", engineer["id"])
    read = ok(world.call(client, "GET", f"/api/v1/dispatch/engineers/{engineer['id']}", "operator_dispatcher"))
    assert read["active_work_order_ids"] == [today["id"], next_week["id"]]
    assert read["active_work_order_id"] == today["id"]


def test_two_orders_on_one_day_that_do_not_overlap_within_the_daily_maximum(client, world, db, monkeypatch):
    FrozenTime(monkeypatch, NOW)
    engineer = create_engineer(client, world, "partner_a_engineer", max_orders_per_day=3)
    morning = visit(client, world, title="上午", estimated_minutes=60, arrival_due_at="2026-03-10T12:00:00+08:00")
    afternoon = visit(client, world, title="下午", earliest_start_at="2026-03-10T15:00:00+08:00",
                      arrival_due_at="2026-03-10T17:00:00+08:00")
    overlapping = visit(client, world, title="冲突", earliest_start_at="2026-03-10T15:30:00+08:00",
                        arrival_due_at="2026-03-10T18:00:00+08:00")
    act(client, world, morning["id"], "assign", "operator_dispatcher", engineer_id=engineer["id"])
    act(client, world, afternoon["id"], "assign", "operator_dispatcher", engineer_id=engineer["id"])
    clash = world.call(client, "POST", f"{WORK_ORDERS}/{overlapping['id']}/assign", "operator_dispatcher",
                       json={"engineer_id": engineer["id"]})
    assert clash.status_code == 409 and error_fields(clash) == ["engineer_id"]
    assert f"already holds work order {afternoon['id']}" in clash.json()["detail"]
    mine = ok(world.call(client, "GET", f"{WORK_ORDERS}?mine=true", "partner_a_engineer"))
    assert {o["id"] for o in mine["items"]} == {morning["id"], afternoon["id"]}


def test_daily_capacity_counts_the_day_of_the_visit_not_the_day_of_assignment(client, world, db, monkeypatch):
    FrozenTime(monkeypatch, NOW)
    engineer = create_engineer(client, world, "partner_a_engineer", max_orders_per_day=1)
    create_engineer(client, world, "partner_b_engineer", home_region_code=LICHENG)
    thursday = visit(client, world, title="周四巡检", earliest_start_at="2026-03-12T09:00:00+08:00",
                     arrival_due_at="2026-03-12T12:00:00+08:00")
    act(client, world, thursday["id"], "assign", "operator_dispatcher", engineer_id=engineer["id"])
    # assigned today, but for Thursday: today's one order is still free ...
    today = visit(client, world, title="今日抢修")
    also_thursday = visit(client, world, title="周四下午", earliest_start_at="2026-03-12T15:00:00+08:00",
                          arrival_due_at="2026-03-12T18:00:00+08:00")
    plan = run_plan(client, world)
    assert proposal_for(plan, today["id"])["engineer_id"] == engineer["id"]
    # ... while Thursday is full, though the afternoon does not overlap the morning's visit
    assert proposal_for(plan, also_thursday["id"])["engineer_id"] != engineer["id"]
    full = world.call(client, "POST", f"{WORK_ORDERS}/{also_thursday['id']}/assign", "operator_dispatcher",
                      json={"engineer_id": engineer["id"]})
    assert full.status_code == 409 and error_fields(full) == ["engineer_id"]
    assert "maximum of work orders on 2026-03-12" in full.json()["detail"]
    act(client, world, today["id"], "assign", "operator_dispatcher", engineer_id=engineer["id"])


def test_the_working_calendar_counts_for_the_visit_not_only_for_now(client, world, db, monkeypatch):
    FrozenTime(monkeypatch, NOW)  # Tuesday 10:00, office hours
    office = create_engineer(client, world, "partner_a_engineer", calendar_id=calendar_id(db, "cn-standard"))
    saturday = visit(client, world, title="周六上门", earliest_start_at="2026-03-14T10:00:00+08:00",
                     arrival_due_at="2026-03-14T16:00:00+08:00")
    night = visit(client, world, title="夜间割接", earliest_start_at="2026-03-11T03:00:00+08:00",
                  arrival_due_at="2026-03-11T04:00:00+08:00")
    lunch = visit(client, world, title="午间", earliest_start_at="2026-03-10T11:30:00+08:00",
                  arrival_due_at="2026-03-10T12:30:00+08:00")
    plan = run_plan(client, world)
    assert proposal_for(plan, saturday["id"])["engineer_id"] is None
    assert proposal_for(plan, saturday["id"])["explanation"]["reasons"] == ["on_leave_or_busy"]
    assert proposal_for(plan, night["id"])["engineer_id"] is None
    assert proposal_for(plan, lunch["id"])["engineer_id"] == office["id"]  # a visit may span lunch
    refused = world.call(client, "POST", f"{WORK_ORDERS}/{saturday['id']}/assign", "operator_dispatcher",
                         json={"engineer_id": office["id"]})
    assert refused.status_code == 409 and "off duty" in refused.json()["detail"]

    on_call = create_engineer(client, world, "partner_b_engineer", home_region_code=LICHENG)  # 24x7
    plan = run_plan(client, world)
    assert proposal_for(plan, saturday["id"])["engineer_id"] == on_call["id"]
    assert proposal_for(plan, saturday["id"])["arrival_at"].startswith("2026-03-14T02:00:00")


def test_an_office_hours_engineer_asked_late_in_the_day_goes_the_next_working_morning(client, world, db, monkeypatch):
    FrozenTime(monkeypatch, cst(2026, 3, 13, 17, 0))  # Friday 17:00: the visit would run past 18:00
    office = create_engineer(client, world, "partner_a_engineer", calendar_id=calendar_id(db, "cn-standard"))
    monday = visit(client, world, title="周一中午前到场", arrival_due_at="2026-03-16T12:00:00+08:00")
    tonight = visit(client, world, title="今晚必须到场", arrival_due_at="2026-03-13T20:00:00+08:00")
    plan = run_plan(client, world)
    p = proposal_for(plan, monday["id"])
    assert p["engineer_id"] == office["id"] and p["on_time"] is True
    monday_morning = cst(2026, 3, 16, 9, 0)  # the weekend is off duty too
    assert datetime.fromisoformat(p["arrival_at"]) == monday_morning + timedelta(minutes=p["travel_minutes"])
    # going on Monday would be late for tonight's visit: the engineer does not qualify for it at all
    assert proposal_for(plan, tonight["id"])["engineer_id"] is None
    assert proposal_for(plan, tonight["id"])["explanation"]["reasons"] == ["on_leave_or_busy"]
    refused = world.call(client, "POST", f"{WORK_ORDERS}/{tonight['id']}/assign", "operator_dispatcher",
                         json={"engineer_id": office["id"]})
    assert refused.status_code == 409 and "off duty" in refused.json()["detail"]

    # the dispatcher's own assignment books the same Monday-morning window
    assigned = act(client, world, monday["id"], "assign", "operator_dispatcher", engineer_id=office["id"])
    assert assigned["status"] == "assigned"
    assert datetime.fromisoformat(assigned["planned_arrival_at"]) == datetime.fromisoformat(p["arrival_at"])


def test_accepting_rechecks_and_a_taken_engineer_is_a_409_that_changes_nothing(client, world, db, monkeypatch):
    FrozenTime(monkeypatch, NOW)
    engineer = create_engineer(client, world, "partner_a_engineer")
    first = visit(client, world, title="第一单")
    second = visit(client, world, title="第二单", arrival_due_at="2026-03-10T18:00:00+08:00")
    plan = run_plan(client, world)
    p = proposal_for(plan, first["id"])
    assert p["engineer_id"] == engineer["id"] and proposal_for(plan, second["id"])["engineer_id"] is None
    assert proposal_for(plan, second["id"])["explanation"]["reasons"] == ["engineers_taken:1"]
    act(client, world, second["id"], "assign", "operator_dispatcher", engineer_id=engineer["id"])

    response = accept(client, world, p["id"], status=409)
    assert error_fields(response) == ["engineer_id"] and "already holds work order" in response.json()["detail"]
    order = ok(world.call(client, "GET", f"{WORK_ORDERS}/{first['id']}", "operator_dispatcher"))
    assert (order["status"], order["engineer_id"]) == ("proposed", None)
    assert db.get(DispatchProposal, p["id"]).status == "pending"
    accept(client, world, p["id"], actor="operator_agent", status=403)
    accept(client, world, 999999, status=404)


def test_dispatcher_changes_a_proposal_and_unqualified_picks_are_refused(client, world, db, monkeypatch):
    FrozenTime(monkeypatch, NOW)
    proposed = create_engineer(client, world, "partner_a_engineer", skills=["network", "power"],
                               certifications=[{"name": "电工证", "expires_on": "2030-01-01"}])
    other = create_engineer(client, world, "partner_b_engineer", skills=["network", "power"],
                            home_region_code=LICHENG, certifications=[{"name": "电工证", "expires_on": "2030-01-01"}])
    no_power = create_engineer(client, world, "partner_a_engineer2", skills=["network"])
    no_cert = create_engineer(client, world, "partner_a_admin", skills=["network", "power"])
    order = visit(client, world, required_skills=["network", "power"], required_certification="电工证")
    plan = run_plan(client, world)
    p = proposal_for(plan, order["id"])
    assert p["engineer_id"] == proposed["id"]

    picks = ok(world.call(client, "GET", f"{WORK_ORDERS}/{order['id']}/candidates", "operator_dispatcher"))
    assert [c["engineer_id"] for c in picks] == [proposed["id"], other["id"]]
    assert picks[0]["travel_minutes"] <= picks[1]["travel_minutes"]

    missing = world.call(client, "POST", f"{WORK_ORDERS}/{order['id']}/assign", "operator_dispatcher",
                         json={"engineer_id": no_power["id"]})
    assert missing.status_code == 422 and error_fields(missing) == ["engineer_id"]
    assert "power" in missing.json()["detail"]
    uncertified = world.call(client, "POST", f"{WORK_ORDERS}/{order['id']}/assign", "operator_dispatcher",
                             json={"engineer_id": no_cert["id"]})
    assert uncertified.status_code == 422 and "电工证" in uncertified.json()["detail"]

    changed = act(client, world, order["id"], "assign", "operator_dispatcher", engineer_id=other["id"],
                  note="胡工熟悉该站点")
    assert (changed["status"], changed["engineer_id"], changed["assigned_org_id"]) == (
        "assigned", other["id"], world.orgs["partner_b"].id)
    override = db.scalar(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == order["id"],
                                                      WorkOrderEvent.kind == "override"))
    assert (override.from_value, override.to_value, override.body) == (
        str(proposed["id"]), str(other["id"]), "胡工熟悉该站点")
    db.expire_all()
    assert db.get(DispatchProposal, p["id"]).status == "rejected"
    assert ok(world.call(client, "GET", f"{PROPOSALS}?status=pending", "operator_dispatcher"))["total"] == 0
    seen = ok(world.call(client, "GET", f"{WORK_ORDERS}/{order['id']}", "customer_b_admin"))["events"]
    assert "override" in [e["kind"] for e in seen] and all(e["body"] != "胡工熟悉该站点" for e in seen)
    # the partner that lost the order no longer sees it; the new one does
    assert world.call(client, "GET", f"{WORK_ORDERS}/{order['id']}", "partner_a_admin").status_code == 404
    assert world.call(client, "GET", f"{WORK_ORDERS}/{order['id']}", "partner_b_admin").status_code == 200


def test_rounds_supersede_rejecting_and_a_dry_run(client, world, db, monkeypatch):
    FrozenTime(monkeypatch, NOW)
    create_engineer(client, world, "partner_a_engineer")
    order = visit(client, world)
    first = proposal_for(run_plan(client, world), order["id"])
    second = proposal_for(run_plan(client, world), order["id"])
    # a round locks the open orders but changes none of them: their last change stays where it was
    after = ok(world.call(client, "GET", f"{WORK_ORDERS}/{order['id']}", "operator_dispatcher"))
    assert datetime.fromisoformat(after["updated_at"]) == datetime.fromisoformat(order["updated_at"])
    db.expire_all()
    assert db.get(DispatchProposal, first["id"]).status == "superseded"
    accept(client, world, first["id"], status=409)
    pending = ok(world.call(client, "GET", f"{PROPOSALS}?status=pending", "operator_agent"))
    assert [p["id"] for p in pending["items"]] == [second["id"]]

    rejected = ok(world.call(client, "POST", f"{PROPOSALS}/{second['id']}/reject", "operator_dispatcher",
                             json={"note": "客户要求下午上门"}))
    assert (rejected["status"], rejected["decision_note"]) == ("rejected", "客户要求下午上门")
    assert world.call(client, "POST", f"{PROPOSALS}/{second['id']}/reject", "operator_dispatcher",
                      json={}).status_code == 409

    plans = db.scalar(select(func.count()).select_from(DispatchPlan))
    dry = ok(world.call(client, "POST", f"{PLANS}?dry_run=true", "operator_dispatcher"), 201)
    assert dry["id"] is None and dry["proposals"][0]["id"] is None and dry["proposals"][0]["engineer_id"]
    assert db.scalar(select(func.count()).select_from(DispatchPlan)) == plans
    assert world.call(client, "POST", PLANS, "operator_agent").status_code == 403


def test_retrying_a_plan_an_absence_or_a_certificate_with_the_same_key_creates_nothing_new(client, world, db,
                                                                                           monkeypatch):
    FrozenTime(monkeypatch, NOW)
    engineer = create_engineer(client, world, "partner_a_engineer")
    visit(client, world)

    def count(model):  # type: ignore[no-untyped-def]
        return db.scalar(select(func.count()).select_from(model))

    def twice(path: str, key: str, **kwargs):  # type: ignore[no-untyped-def]
        first = world.call(client, "POST", path, "operator_dispatcher", headers={"Idempotency-Key": key}, **kwargs)
        counts = (count(DispatchPlan), count(DispatchProposal), count(EngineerAbsence), count(EngineerCertification))
        again = world.call(client, "POST", path, "operator_dispatcher", headers={"Idempotency-Key": key}, **kwargs)
        assert first.status_code == again.status_code == 201, again.text
        assert again.headers.get("Idempotent-Replay") == "true" and again.json() == first.json()
        assert (count(DispatchPlan), count(DispatchProposal), count(EngineerAbsence),
                count(EngineerCertification)) == counts
        return first.json()

    plan = twice(PLANS, "plan-1")
    assert plan["id"] is not None and count(DispatchPlan) == 1
    assert run_plan(client, world)["id"] != plan["id"]  # no key: a new round
    path = f"/api/v1/dispatch/engineers/{engineer['id']}"
    twice(f"{path}/absences", "leave-1", json={"kind": "leave", "starts_at": "2026-03-20T09:00:00+08:00",
                                               "ends_at": "2026-03-21T18:00:00+08:00"})
    assert count(EngineerAbsence) == 1
    twice(f"{path}/certifications", "cert-1", json={"name": "CISP", "expires_on": "2028-01-01"})
    assert count(EngineerCertification) == 1
    reused = world.call(client, "POST", f"{path}/absences", "operator_dispatcher",
                        headers={"Idempotency-Key": "plan-1"},
                        json={"kind": "leave", "starts_at": "2026-03-22T09:00:00+08:00",
                              "ends_at": "2026-03-23T18:00:00+08:00"})
    assert reused.status_code == 409 and error_fields(reused) == ["Idempotency-Key"]
