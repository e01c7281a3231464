"""Work orders through the API: from a ticket (due from its on-site clock) or standalone (site by code, by
free-text address, by customer site), the state machine with its 409s, the engineer's steps, check-in meeting
the ticket's on-site clock, the customer's confirmation, cancelling and idempotent creation."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from huoban.models import AuditEntry, CustomerSite, SlaClock, WorkOrder, WorkOrderEvent
from tests.dispatch.factories import (
    ENGINEERS,
    HAISHU,
    SHOUGUANG,
    WORK_ORDERS,
    FrozenTime,
    act,
    create_engineer,
    create_order,
    cst,
    error_fields,
    ok,
    proposal_for,
    raise_visit_ticket,
    run_plan,
)


def _ticket_clock(client, world, ticket_id, metric="on_site"):  # type: ignore[no-untyped-def]
    detail = ok(world.call(client, "GET", f"/api/v1/tickets/{ticket_id}", "operator_agent"))
    [found] = [c for c in detail["clocks"] if c["metric"] == metric]
    return found


def test_visit_from_a_ticket_through_every_step_meets_the_on_site_clock(client, world, db, monkeypatch):
    time = FrozenTime(monkeypatch, cst(2026, 3, 10, 10, 0))  # a Tuesday
    ticket = raise_visit_ticket(client, world)
    engineer = create_engineer(client, world, "partner_b_engineer", skills=["network", "power"])

    order = create_order(client, world, "operator_agent", ticket_id=ticket["id"], required_skills=["network"])
    assert order["status"] == "proposed"
    assert (order["customer_org_id"], order["priority"], order["site_region_code"]) == (
        world.orgs["customer_a"].id, "P1", SHOUGUANG)
    assert order["title"] == ticket["title"] and order["site_address"] == "山东省潍坊市寿光市文圣街 88 号"
    assert order["arrival_due_at"] == _ticket_clock(client, world, ticket["id"])["due_at"]
    assert order["site_region_name"].endswith("寿光市")

    plan = run_plan(client, world)
    proposal = proposal_for(plan, order["id"])
    assert proposal["engineer_id"] == engineer["id"] and proposal["on_time"] is True
    assigned = ok(world.call(client, "POST", f"/api/v1/dispatch/proposals/{proposal['id']}/accept",
                             "operator_dispatcher"))
    assert assigned["status"] == "assigned"
    assert (assigned["engineer_id"], assigned["assigned_org_id"]) == (engineer["id"], world.orgs["partner_b"].id)
    assert assigned["planned_arrival_at"] is not None and assigned["travel_minutes"] == proposal["travel_minutes"]

    time.advance(minutes=5)
    assert act(client, world, order["id"], "accept", "partner_b_engineer")["status"] == "accepted"
    time.advance(minutes=5)
    assert act(client, world, order["id"], "start-travel", "partner_b_engineer")["status"] == "travelling"
    assert _ticket_clock(client, world, ticket["id"])["state"] == "running"
    arrived = time.advance(minutes=40)
    on_site = act(client, world, order["id"], "check-in", "partner_b_engineer")
    assert on_site["status"] == "on_site"
    assert datetime.fromisoformat(on_site["checked_in_at"]) == arrived
    clock = _ticket_clock(client, world, ticket["id"])
    assert clock["state"] == "met" and clock["met_at"] is not None

    time.advance(hours=2)
    done = act(client, world, order["id"], "check-out", "partner_b_engineer", notes="更换电源模块，链路恢复。")
    assert done["status"] == "done" and done["work_notes"] == "更换电源模块，链路恢复。"
    confirmed = act(client, world, order["id"], "confirm", "customer_a_member", rating=5, comment="很及时")
    assert (confirmed["confirmation_rating"], confirmed["confirmation_comment"]) == (5, "很及时")

    kinds = [(e["kind"], e["to_value"]) for e in confirmed["events"]]
    assert kinds == [("created", "proposed"), ("status", "assigned"), ("assigned", str(engineer["id"])),
                     ("status", "accepted"), ("status", "travelling"), ("status", "on_site"), ("status", "done"),
                     ("confirmed", "5")]
    actions = set(db.scalars(select(AuditEntry.action).where(AuditEntry.object_type.in_(["work_order", "ticket"]))))
    assert {"work_order.create", "dispatch.accept", "work_order.status", "work_order.confirm",
            "ticket.on_site"} <= actions
    ticket_events = ok(world.call(client, "GET", f"/api/v1/tickets/{ticket['id']}", "customer_a_member"))["events"]
    assert ("on_site", "arrived") in [(e["kind"], e["to_value"]) for e in ticket_events]


def test_illegal_transitions_are_409_and_only_the_assigned_engineer_acts(client, world, monkeypatch):
    FrozenTime(monkeypatch, cst(2026, 3, 10, 10, 0))
    engineer = create_engineer(client, world, "partner_b_engineer")
    create_engineer(client, world, "partner_a_engineer")
    order = create_order(client, world, customer_org_id=world.orgs["customer_b"].id, title="年度巡检",
                         site_region_code=SHOUGUANG)
    # not assigned yet: the engineer cannot accept it, nor check in
    act(client, world, order["id"], "accept", "partner_b_engineer", 404)  # not his partner's order yet
    act(client, world, order["id"], "assign", "operator_dispatcher", engineer_id=engineer["id"])
    act(client, world, order["id"], "check-in", "partner_b_engineer", 409)
    act(client, world, order["id"], "start-travel", "partner_b_engineer", 409)
    response = world.call(client, "POST", f"{WORK_ORDERS}/{order['id']}/check-out", "partner_b_engineer",
                          json={"notes": "x"})
    assert response.status_code == 409 and error_fields(response) == ["status"]
    assert "cannot go from assigned to done" in response.json()["detail"]
    act(client, world, order["id"], "accept", "partner_b_engineer")
    act(client, world, order["id"], "accept", "partner_b_engineer", 409)
    # another engineer of the same partner sees the order but may not act on it
    act(client, world, order["id"], "start-travel", "partner_b_admin", 403)
    act(client, world, order["id"], "start-travel", "partner_b_engineer")
    act(client, world, order["id"], "check-in", "partner_b_engineer")
    act(client, world, order["id"], "confirm", "customer_b_admin", 409, rating=4)  # not done yet
    act(client, world, order["id"], "check-out", "partner_b_engineer", 422, notes="   ")
    act(client, world, order["id"], "check-out", "partner_b_engineer", notes="巡检完成")
    act(client, world, order["id"], "cancel", "operator_dispatcher", 409, reason="太晚了")
    act(client, world, order["id"], "confirm", "customer_b_admin", 422, rating=6)
    act(client, world, order["id"], "confirm", "operator_dispatcher", 403, rating=4)
    act(client, world, order["id"], "confirm", "customer_b_admin", rating=4)
    act(client, world, order["id"], "confirm", "customer_b_admin", 409, rating=5)


def test_cancel_frees_the_engineer_and_needs_a_reason(client, world, monkeypatch):
    FrozenTime(monkeypatch, cst(2026, 3, 10, 10, 0))
    engineer = create_engineer(client, world, "partner_b_engineer")
    first = create_order(client, world, customer_org_id=world.orgs["customer_b"].id, title="巡检一",
                         site_region_code=SHOUGUANG)
    second = create_order(client, world, customer_org_id=world.orgs["customer_b"].id, title="巡检二",
                          site_region_code=SHOUGUANG)
    act(client, world, first["id"], "assign", "operator_dispatcher", engineer_id=engineer["id"])
    busy = world.call(client, "POST", f"{WORK_ORDERS}/{second['id']}/assign", "operator_dispatcher",
                      json={"engineer_id": engineer["id"]})
    assert busy.status_code == 409 and error_fields(busy) == ["engineer_id"]
    act(client, world, first["id"], "cancel", "operator_dispatcher", 422)
    act(client, world, first["id"], "cancel", "operator_agent", 403, reason="客户取消")
    cancelled = act(client, world, first["id"], "cancel", "operator_dispatcher", reason="客户取消")
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", "客户取消")
    act(client, world, second["id"], "assign", "operator_dispatcher", engineer_id=engineer["id"])
    act(client, world, first["id"], "cancel", "operator_dispatcher", 409, reason="again")


def test_standalone_visits_by_code_by_address_and_by_customer_site(client, world, db):
    b = world.orgs["customer_b"]
    by_code = create_order(client, world, customer_org_id=b.id, title="UPS 年检", site_region_code=HAISHU,
                           required_skills=["power"], required_certification="电工证", estimated_minutes=90)
    assert (by_code["kind"], by_code["priority"], by_code["required_certification"]) == ("maintenance", "P3", "电工证")
    assert by_code["arrival_due_at"] is None

    by_address = create_order(client, world, customer_org_id=b.id, title="机房巡检",
                              site_address="山东省潍坊市青州市范公亭西路 6 号", priority="P2",
                              arrival_due_at="2030-01-02T12:00:00+08:00", earliest_start_at="2030-01-02T09:00:00+08:00")
    assert by_address["site_region_code"] == "370781"
    assert datetime.fromisoformat(by_address["arrival_due_at"]) == cst(2030, 1, 2, 12)

    site = CustomerSite(customer_org_id=b.id, name="寿光数据中心", region_code=SHOUGUANG, address="寿光市圣城街 1 号",
                        longitude=118.79, latitude=36.86, required_skills=["storage"])
    db.add(site)
    db.commit()
    by_site = create_order(client, world, customer_org_id=b.id, title="存储扩容", site_id=site.id)
    assert (by_site["site_id"], by_site["site_region_code"], by_site["required_skills"]) == (
        site.id, SHOUGUANG, ["storage"])
    assert (by_site["site_longitude"], by_site["site_latitude"]) == (118.79, 36.86)

    wrong_site = world.call(client, "POST", WORK_ORDERS, "operator_dispatcher",
                            json={"customer_org_id": world.orgs["customer_a"].id, "title": "x", "site_id": site.id})
    assert wrong_site.status_code == 404 and error_fields(wrong_site) == ["site_id"]


def test_bad_input_names_the_field(client, world, monkeypatch):
    FrozenTime(monkeypatch, cst(2026, 3, 10, 10, 0))
    b = world.orgs["customer_b"].id

    def fields(actor: str = "operator_dispatcher", **body):  # type: ignore[no-untyped-def]
        response = world.call(client, "POST", WORK_ORDERS, actor, json=body)
        assert response.status_code in (403, 404, 409, 422), response.text
        return response.status_code, error_fields(response)

    assert fields(customer_org_id=b, title="x", site_address="hello world") == (422, ["site_address"])
    assert fields(customer_org_id=b, title="x", site_address="山东省") == (422, ["site_address"])
    assert fields(customer_org_id=b, title="x", site_region_code="999999") == (422, ["site_region_code"])
    assert fields(customer_org_id=b, title="x", site_region_code="370000") == (422, ["site_region_code"])
    assert fields(customer_org_id=b, title="x") == (422, ["site_region_code"])
    assert fields(customer_org_id=b, site_region_code=SHOUGUANG) == (422, ["title"])
    assert fields(customer_org_id=world.orgs["partner_a"].id, title="x", site_region_code=SHOUGUANG) == (
        422, ["customer_org_id"])
    assert fields(title="x", site_region_code=SHOUGUANG) == (422, ["customer_org_id"])
    assert fields(customer_org_id=b, title="x", site_region_code=SHOUGUANG, required_skills=["juggling"])[0] == 422
    assert fields(customer_org_id=b, title="x", site_region_code=SHOUGUANG,
                  earliest_start_at="2026-03-10T10:00:00") == (422, ["earliest_start_at"])
    assert fields(customer_org_id=b, title="x", site_region_code=SHOUGUANG, earliest_start_at="2026-03-12T10:00:00Z",
                  arrival_due_at="2026-03-11T10:00:00Z") == (422, ["arrival_due_at"])
    assert fields("operator_agent", customer_org_id=b, title="x", site_region_code=SHOUGUANG)[0] == 403
    assert fields("partner_a_admin", customer_org_id=b, title="x", site_region_code=SHOUGUANG)[0] == 403
    assert fields("customer_b_admin", customer_org_id=b, title="x", site_region_code=SHOUGUANG)[0] == 403

    no_visit = raise_visit_ticket(client, world, on_site_required=False)
    assert fields(ticket_id=no_visit["id"]) == (422, ["ticket_id"])
    visit = raise_visit_ticket(client, world)
    create_order(client, world, "operator_agent", ticket_id=visit["id"])
    assert fields(ticket_id=visit["id"]) == (409, ["ticket_id"])
    assert fields(ticket_id=999999) == (404, ["ticket_id"])


def test_create_is_idempotent_with_a_key(client, world, db):
    body = {"customer_org_id": world.orgs["customer_b"].id, "title": "UPS 年检", "site_region_code": SHOUGUANG}
    headers = {"Idempotency-Key": "wo-1"}
    first = world.call(client, "POST", WORK_ORDERS, "operator_dispatcher", json=body, headers=headers)
    again = world.call(client, "POST", WORK_ORDERS, "operator_dispatcher", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replay") == "true" and again.json()["id"] == first.json()["id"]
    assert db.scalar(select(func.count()).select_from(WorkOrder)) == 1
    other = world.call(client, "POST", WORK_ORDERS, "operator_dispatcher", json={**body, "title": "另一个"},
                       headers=headers)
    assert other.status_code == 409 and error_fields(other) == ["Idempotency-Key"]


def test_lists_filter_and_put_the_most_urgent_first(client, world):
    b = world.orgs["customer_b"].id
    late = create_order(client, world, customer_org_id=b, title="晚", site_region_code=HAISHU,
                        earliest_start_at="2030-01-01T00:00:00Z", arrival_due_at="2030-01-03T00:00:00Z")
    soon = create_order(client, world, customer_org_id=b, title="早", site_region_code=SHOUGUANG,
                        earliest_start_at="2030-01-01T00:00:00Z", arrival_due_at="2030-01-02T00:00:00Z")
    none = create_order(client, world, customer_org_id=b, title="无", site_region_code=SHOUGUANG)
    page = ok(world.call(client, "GET", WORK_ORDERS, "operator_dispatcher"))
    assert [o["id"] for o in page["items"]] == [soon["id"], late["id"], none["id"]] and page["total"] == 3
    shandong = ok(world.call(client, "GET", f"{WORK_ORDERS}?region_code=370000", "operator_dispatcher"))
    assert {o["id"] for o in shandong["items"]} == {soon["id"], none["id"]}
    assert ok(world.call(client, "GET", f"{WORK_ORDERS}?status=done", "operator_dispatcher"))["total"] == 0
    assert world.call(client, "GET", f"{WORK_ORDERS}?status=bogus", "operator_dispatcher").status_code == 422


def test_ids_out_of_the_databases_range_are_a_422_naming_the_field(client, world):
    huge = 9223372036854775808

    def fields(method: str, path: str, **kwargs):  # type: ignore[no-untyped-def]
        response = world.call(client, method, path, "operator_dispatcher", **kwargs)
        assert response.status_code == 422, response.text
        return error_fields(response)

    assert fields("GET", f"{WORK_ORDERS}?engineer_id={huge}") == ["engineer_id"]
    assert fields("GET", f"{WORK_ORDERS}?customer_org_id={2**31}") == ["customer_org_id"]
    assert fields("GET", f"{WORK_ORDERS}/{huge}") == ["work_order_id"]
    assert fields("GET", f"{ENGINEERS}/{2**31}") == ["engineer_id"]
    assert fields("GET", f"{ENGINEERS}?org_id={huge}") == ["org_id"]
    assert fields("GET", f"/api/v1/dispatch/plans/{huge}") == ["plan_id"]
    assert fields("POST", f"/api/v1/dispatch/proposals/{huge}/accept") == ["proposal_id"]
    assert fields("GET", f"/api/v1/dispatch/proposals?work_order_id={huge}") == ["work_order_id"]
    assert fields("POST", f"{WORK_ORDERS}/1/assign", json={"engineer_id": huge}) == ["engineer_id"]
    assert fields("POST", WORK_ORDERS, json={"ticket_id": huge}) == ["ticket_id"]
    assert fields("POST", ENGINEERS, json={"user_id": huge, "home_region_code": SHOUGUANG}) == ["user_id"]
    assert fields("GET", f"/api/v1/dispatch/coverage/gaps?customer_org_id={huge}") == ["customer_org_id"]
    assert world.call(client, "GET", f"{WORK_ORDERS}/{2**31 - 1}", "operator_dispatcher").status_code == 404


def _instant(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _timeline(client, world, order_id, actor="operator_dispatcher"):  # type: ignore[no-untyped-def]
    """The order as `actor` reads it and its due/priority events as (kind, from, to, actor id)."""
    detail = ok(world.call(client, "GET", f"{WORK_ORDERS}/{order_id}", actor))
    read = _instant
    return detail, [(e["kind"], *((e["from_value"], e["to_value"]) if e["kind"] == "priority" else
                                  (read(e["from_value"]), read(e["to_value"]))), e["actor_id"])
                    for e in detail["events"] if e["kind"] in ("due", "priority")]


def test_a_ticket_priority_change_moves_its_open_order_at_once(client, world, monkeypatch):
    time = FrozenTime(monkeypatch, cst(2026, 3, 10, 10, 0))
    ticket = raise_visit_ticket(client, world, priority="P3")
    create_engineer(client, world, "partner_b_engineer", skills=["network"])
    order = create_order(client, world, "operator_agent", ticket_id=ticket["id"], required_skills=["network"])
    p3_due = order["arrival_due_at"]
    assert order["priority"] == "P3" and p3_due == _ticket_clock(client, world, ticket["id"])["due_at"]

    changed_at = time.advance(minutes=10)
    ok(world.call(client, "PATCH", f"/api/v1/tickets/{ticket['id']}", "operator_agent", json={"priority": "P1"}))
    p1_due = _ticket_clock(client, world, ticket["id"])["due_at"]
    assert p1_due != p3_due
    # no plan round and no read needed: lists and urgency order read the row, already moved
    [listed] = ok(world.call(client, "GET", f"{WORK_ORDERS}?ticket_id={ticket['id']}", "operator_dispatcher"))["items"]
    assert (listed["priority"], _instant(listed["arrival_due_at"])) == ("P1", _instant(p1_due))
    detail, changes = _timeline(client, world, order["id"], "customer_a_member")
    agent = world.users["operator_agent"].id
    assert sorted(changes, key=str) == [("due", _instant(p3_due), _instant(p1_due), agent),
                                        ("priority", "P3", "P1", agent)]
    assert {datetime.fromisoformat(e["at"]) for e in detail["events"] if e["kind"] in ("due", "priority")} == {
        changed_at}
    run_plan(client, world)  # a round finds nothing left to bring up to date
    assert _timeline(client, world, order["id"])[1] == changes

    ok(world.call(client, "PATCH", f"/api/v1/tickets/{ticket['id']}", "operator_agent", json={"priority": "P2"}))
    [listed] = ok(world.call(client, "GET", f"{WORK_ORDERS}?ticket_id={ticket['id']}", "operator_dispatcher"))["items"]
    assert listed["priority"] == "P2"
    assert _instant(listed["arrival_due_at"]) == _instant(_ticket_clock(client, world, ticket["id"])["due_at"])


def test_reading_an_order_never_writes_it(client, world, db, monkeypatch):
    time = FrozenTime(monkeypatch, cst(2026, 3, 10, 10, 0))
    ticket = raise_visit_ticket(client, world, priority="P3")
    engineer = create_engineer(client, world, "partner_b_engineer", skills=["network"])
    order = create_order(client, world, "operator_agent", ticket_id=ticket["id"], required_skills=["network"])
    assigned = act(client, world, order["id"], "assign", "operator_dispatcher", engineer_id=engineer["id"])
    # the ticket's clock moves behind the order's back (as a read-repair used to catch up on every GET)
    db.execute(update(SlaClock).where(SlaClock.ticket_id == ticket["id"], SlaClock.metric == "on_site")
               .values(due_at=cst(2026, 3, 20, 10, 0)))
    db.flush()
    before = db.scalar(select(func.count()).select_from(WorkOrderEvent))
    time.advance(minutes=30)
    for reader in ("customer_a_member", "partner_b_engineer", "operator_dispatcher"):
        shown = ok(world.call(client, "GET", f"{WORK_ORDERS}/{order['id']}", reader))
        assert (shown["arrival_due_at"], shown["updated_at"]) == (assigned["arrival_due_at"], assigned["updated_at"])
    assert db.scalar(select(func.count()).select_from(WorkOrderEvent)) == before
    row = db.get_one(WorkOrder, order["id"])
    db.refresh(row)
    assert row.arrival_due_at == _instant(order["arrival_due_at"])


def test_waiting_on_the_customer_moves_the_order_when_the_ticket_resumes(client, world, monkeypatch):
    time = FrozenTime(monkeypatch, cst(2026, 3, 10, 10, 0))  # Tuesday, working time on cn-standard
    ticket = raise_visit_ticket(client, world)
    order = create_order(client, world, "operator_agent", ticket_id=ticket["id"])
    due = _instant(order["arrival_due_at"])

    def status(to: str, actor: str = "operator_agent") -> None:
        ok(world.call(client, "POST", f"/api/v1/tickets/{ticket['id']}/status", actor, json={"status": to}))

    def order_due() -> datetime | None:
        [row] = ok(world.call(client, "GET", f"{WORK_ORDERS}?ticket_id={ticket['id']}", "operator_dispatcher"))["items"]
        clock = _instant(_ticket_clock(client, world, ticket["id"])["due_at"])
        assert _instant(row["arrival_due_at"]) == clock
        return clock

    time.advance(minutes=10)
    status("waiting_customer")
    assert order_due() == due  # a pause keeps the due time until it ends
    time.advance(minutes=60)
    status("in_progress")  # the agent resumes: an hour of working time later
    assert order_due() == due + timedelta(hours=1)

    time.advance(minutes=10)
    status("waiting_customer")
    time.advance(minutes=30)
    reply = world.call(client, "POST", f"/api/v1/tickets/{ticket['id']}/comments", "customer_a_member",
                       json={"body": "已重启设备，仍然无法上线。"})
    assert reply.status_code == 201, reply.text  # the customer's reply resumes the ticket
    assert order_due() == due + timedelta(hours=1, minutes=30)
    _, changes = _timeline(client, world, order["id"])
    assert [k for k, *_ in changes] == ["due", "due"]


def test_a_calendar_or_policy_edit_moves_the_orders_on_it(client, world, monkeypatch):
    FrozenTime(monkeypatch, cst(2026, 3, 10, 10, 0))  # Tuesday; P3 is due on site in 3 working days
    ticket = raise_visit_ticket(client, world, priority="P3")
    order = create_order(client, world, "operator_agent", ticket_id=ticket["id"])
    assert _instant(order["arrival_due_at"]) == cst(2026, 3, 13, 10, 0)

    calendar = ok(world.call(client, "GET", "/api/v1/sla/calendars/2", "operator_admin"))  # cn-standard
    definition = {**calendar["definition"], "holidays": [*calendar["definition"]["holidays"], "2026-03-11"]}
    ok(world.call(client, "PATCH", "/api/v1/sla/calendars/2", "operator_admin", json={"definition": definition}))
    [row] = ok(world.call(client, "GET", f"{WORK_ORDERS}?ticket_id={ticket['id']}", "operator_dispatcher"))["items"]
    assert _instant(row["arrival_due_at"]) == cst(2026, 3, 16, 10, 0)  # a day off on Wednesday: Monday

    policy = ok(world.call(client, "GET", "/api/v1/sla/policies/1", "operator_admin"))
    targets = {**policy["targets"], "P3": {**policy["targets"]["P3"], "on_site": 480}}
    ok(world.call(client, "PATCH", "/api/v1/sla/policies/1", "operator_admin", json={"targets": targets}))
    [row] = ok(world.call(client, "GET", f"{WORK_ORDERS}?ticket_id={ticket['id']}", "operator_dispatcher"))["items"]
    assert _instant(row["arrival_due_at"]) == cst(2026, 3, 12, 10, 0)  # one working day, skipping Wednesday
    _, changes = _timeline(client, world, order["id"])
    assert [(k, b) for k, _, b, _ in changes] == [("due", cst(2026, 3, 16, 10, 0)),
                                                           ("due", cst(2026, 3, 12, 10, 0))]
