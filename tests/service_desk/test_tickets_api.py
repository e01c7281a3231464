"""Tickets through the JSON API: raising (customer or agent by phone), bad input, lists, the lifecycle,
replies and notes, clocks following each change, satisfaction ratings, attachments and idempotent retries."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select

from huoban.models import AuditEntry, Ticket, TicketAttachment, TicketEvent
from huoban.service_desk.service import MAX_ATTACHMENT_BYTES
from huoban.sla.builtin import get_builtin
from huoban.sla.calendar import add_working_time
from tests.service_desk.factories import (
    TICKETS,
    change,
    clock,
    due,
    error_fields,
    instant,
    move,
    pdf_bytes,
    png_bytes,
    raise_ticket,
    read,
    reply,
)


def count(db, model, *where):  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count()).select_from(model).where(*where))


# --- raising -------------------------------------------------------------------------------------------


def test_a_customer_user_raises_a_ticket_for_its_own_organization(client, world, db):
    member = world.users["customer_a_member"]
    body = raise_ticket(client, world, "customer_a_member", priority="P2", category="fault",
                        site_region_code="330203", site_address="海曙区解放南路 1 号 3 楼机房", on_site_required=True)

    assert body["customer_org_id"] == world.orgs["customer_a"].id
    assert body["raised_by_id"] == body["created_by_id"] == member.id
    assert (body["channel"], body["status"], body["priority"], body["category"]) == ("api", "new", "P2", "fault")
    assert (body["site_region_code"], body["on_site_required"]) == ("330203", True)
    assert body["sla_policy_id"] == 1  # the operator's global default (cn-standard)
    assert body["reopened_count"] == 0 and body["assignee_id"] is None
    minutes = {c["metric"]: c["target_seconds"] // 60 for c in body["clocks"]}
    assert minutes == {"first_response": 60, "resolution": 960, "on_site": 480}
    assert {(c["cycle"], c["state"], c["paused"]) for c in body["clocks"]} == {(1, "running", False)}
    assert [(e["kind"], e["to_value"], e["actor_id"]) for e in body["events"]] == [("created", "new", member.id)]

    assert read(client, world, body["id"], "customer_a_admin")["title"] == body["title"]
    assert count(db, AuditEntry, AuditEntry.action == "ticket.create", AuditEntry.object_id == str(body["id"])) == 1


def test_an_agent_raises_a_ticket_for_a_customer_who_phoned(client, world):
    a, member = world.orgs["customer_a"], world.users["customer_a_member"]
    body = raise_ticket(client, world, "operator_agent", customer_org_id=a.id, raised_by_id=member.id, priority="P1")
    assert body["customer_org_id"] == a.id
    assert (body["raised_by_id"], body["created_by_id"]) == (member.id, world.users["operator_agent"].id)
    assert body["channel"] == "phone"
    assert read(client, world, body["id"], "customer_a_member")["id"] == body["id"]

    by_mail = raise_ticket(client, world, "operator_admin", customer_org_id=a.id, channel="email")
    assert by_mail["channel"] == "email"
    assert by_mail["raised_by_id"] == world.users["operator_admin"].id  # no caller named: the agent


@pytest.mark.parametrize(("actor", "fields", "status", "field"), [
    ("customer_a_member", {"site_region_code": "999999"}, 422, "site_region_code"),
    ("customer_a_member", {"site_region_code": "33020"}, 422, "site_region_code"),
    ("customer_a_member", {"urgency": "very"}, 422, "urgency"),
    ("customer_a_member", {"priority": "P5"}, 422, "priority"),
    ("customer_a_member", {"priority": "p1"}, 422, "priority"),
    ("customer_a_member", {"title": ""}, 422, "title"),
    ("customer_a_member", {"title": "x" * 201}, 422, "title"),
    ("customer_a_member", {"description": ""}, 422, "description"),
    ("customer_a_member", {"category": "wish"}, 422, "category"),
    ("customer_a_member", {"on_site_required": "maybe"}, 422, "on_site_required"),
    ("customer_a_member", {"customer_org_id": "customer_b"}, 404, "customer_org_id"),
    ("customer_a_member", {"raised_by_id": "customer_a_admin"}, 422, "raised_by_id"),
    ("operator_agent", {}, 422, "customer_org_id"),
    ("operator_agent", {"customer_org_id": "partner_a"}, 422, "customer_org_id"),
    ("operator_agent", {"customer_org_id": 987654}, 422, "customer_org_id"),
    ("operator_agent", {"customer_org_id": "customer_a", "raised_by_id": "customer_b_admin"}, 422, "raised_by_id"),
    ("operator_agent", {"customer_org_id": "customer_a", "site_region_code": "000000"}, 422, "site_region_code"),
])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_created(client, world, db, actor, fields, status,
                                                                      field):
    def resolve(value):  # type: ignore[no-untyped-def]
        if isinstance(value, str) and value in world.orgs:
            return world.orgs[value].id
        if isinstance(value, str) and value in world.users:
            return world.users[value].id
        return value

    body = {"title": "打印机卡纸", "description": "财务室打印机卡纸。"}
    body.update({k: resolve(v) for k, v in fields.items()})
    response = world.call(client, "POST", TICKETS, actor, json=body)
    assert response.status_code == status, response.text
    assert field in error_fields(response)
    assert count(db, Ticket) == 0


def test_a_missing_description_and_a_body_that_is_not_json_are_422(client, world):
    missing = world.call(client, "POST", TICKETS, "customer_a_member", json={"title": "无描述"})
    assert missing.status_code == 422 and error_fields(missing) == ["description"]
    broken = world.call(client, "POST", TICKETS, "customer_a_member", content=b"{not json",
                        headers={"Content-Type": "application/json"})
    assert broken.status_code == 422


@pytest.mark.parametrize("actor", ["partner_a_admin", "partner_a_engineer", "operator_audit_admin"])
def test_partners_and_non_agent_operators_cannot_raise_tickets(client, world, db, actor):
    response = world.call(client, "POST", TICKETS, actor, json={
        "title": "x", "description": "y", "customer_org_id": world.orgs["customer_a"].id})
    assert response.status_code == 403
    assert count(db, Ticket) == 0


# --- lists ---------------------------------------------------------------------------------------------


def ids(response) -> list[int]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()["items"]]


def test_list_filters_by_status_priority_customer_assignee_region_and_text(client, world):
    a, b = world.orgs["customer_a"].id, world.orgs["customer_b"].id
    agent = world.users["operator_agent"].id
    t1 = raise_ticket(client, world, "customer_a_member", priority="P1", title="财务室打印机卡纸",
                      site_region_code="330203")["id"]
    t2 = raise_ticket(client, world, "operator_agent", customer_org_id=b, priority="P2", title="服务器宕机",
                      site_region_code="370102")["id"]
    t3 = raise_ticket(client, world, "operator_agent", customer_org_id=a, priority="P3", title="打印机无法联网",
                      site_region_code="330106")["id"]
    t4 = raise_ticket(client, world, "customer_a_admin", priority="P4", title="申请新账号")["id"]
    change(client, world, t3, assignee_id=agent)
    move(client, world, t3, "in_progress")
    move(client, world, t4, "resolved")

    def listed(actor: str = "operator_agent", **params) -> set[int]:  # type: ignore[no-untyped-def]
        return set(ids(world.call(client, "GET", TICKETS, actor, params=params)))

    assert listed() == {t1, t2, t3, t4}
    assert listed(status="in_progress") == {t3}
    assert listed(status=["new", "resolved"]) == {t1, t2, t4}
    assert listed(open_only="true") == {t1, t2, t3}
    assert listed(priority="P1") == {t1}
    assert listed(customer_org_id=b) == {t2}
    assert listed(customer_org_id=a, priority="P3") == {t3}
    assert listed(assignee_id=agent) == {t3}
    assert listed(region_code="330000") == {t1, t3}  # a province matches every site under it
    assert listed(region_code="330200") == {t1}  # a city too
    assert listed(region_code="330203") == {t1}
    assert listed(region_code="330100") == {t3}
    assert listed(region_code="370000") == {t2}
    assert listed(region_code="110000") == set()
    assert listed(q="打印机") == {t1, t3}
    assert listed(q="%") == set()  # LIKE wildcards are matched literally
    assert listed("customer_a_member") == {t1, t3, t4}
    assert listed("customer_a_member", customer_org_id=b) == set()
    assert listed("partner_a_admin") == set()

    for params, field in (({"region_code": "33"}, "region_code"), ({"priority": "P9"}, "priority"),
                          ({"status": "done"}, "status"), ({"limit": 0}, "limit"), ({"order": "random"}, "order")):
        bad = world.call(client, "GET", TICKETS, "operator_agent", params=params)
        assert bad.status_code == 422 and field in error_fields(bad)[0], (params, bad.text)


def test_list_pages_through_every_ticket_once(client, world):
    created = {raise_ticket(client, world, title=f"第 {n} 号故障")["id"] for n in range(5)}
    seen: list[int] = []
    for offset in (0, 2, 4, 6):
        page = world.call(client, "GET", TICKETS, "customer_a_member", params={"limit": 2, "offset": offset}).json()
        assert (page["total"], page["limit"], page["offset"]) == (5, 2, offset)
        assert len(page["items"]) == min(2, max(0, 5 - offset))
        seen += [t["id"] for t in page["items"]]
    assert sorted(seen) == sorted(created)
    newest = ids(world.call(client, "GET", TICKETS, "customer_a_member", params={"order": "newest"}))
    assert newest == sorted(created, reverse=True)


def test_the_queue_puts_the_least_time_left_first(client, world):
    a = world.orgs["customer_a"].id
    by_priority = {p: raise_ticket(client, world, "operator_agent", customer_org_id=a, priority=p)["id"]
                   for p in ("P4", "P3", "P1", "P2")}
    done = raise_ticket(client, world, "operator_agent", customer_org_id=a, priority="P1")["id"]
    move(client, world, done, "resolved")
    move(client, world, done, "closed")  # no running clock: last
    queue = ids(world.call(client, "GET", TICKETS, "operator_agent"))
    assert queue == [by_priority["P1"], by_priority["P2"], by_priority["P3"], by_priority["P4"], done]


# --- the lifecycle -------------------------------------------------------------------------------------


def test_the_whole_lifecycle_records_each_change_on_the_timeline(client, world):
    t = raise_ticket(client, world)["id"]
    steps = ["acknowledged", "in_progress", "waiting_customer", "in_progress", "resolved", "closed"]
    for status in steps:
        body = move(client, world, t, status, comment=f"→ {status}")
        assert body["status"] == status
    body = read(client, world, t)
    assert body["acknowledged_at"] and body["resolved_at"] and body["closed_at"]
    changes = [(e["from_value"], e["to_value"], e["body"]) for e in body["events"] if e["kind"] == "status"]
    assert changes == [(old, new, f"→ {new}") for old, new in zip(["new", *steps], steps, strict=False)]
    assert {c["state"] for c in body["clocks"]} <= {"met", "stopped", "breached"}


@pytest.mark.parametrize(("path", "illegal"), [
    ([], "closed"),
    ([], "new"),
    (["in_progress"], "acknowledged"),
    (["resolved"], "waiting_customer"),
    (["resolved", "closed"], "resolved"),
    (["resolved", "closed"], "closed"),
])
def test_illegal_transitions_are_409_naming_status(client, world, path, illegal):
    t = raise_ticket(client, world)["id"]
    for status in path:
        move(client, world, t, status)
    response = world.call(client, "POST", f"{TICKETS}/{t}/status", "operator_agent", json={"status": illegal})
    assert response.status_code == 409, response.text
    assert error_fields(response) == ["status"]
    assert read(client, world, t)["status"] == (path[-1] if path else "new")


def test_an_unknown_status_is_422(client, world):
    t = raise_ticket(client, world)["id"]
    response = world.call(client, "POST", f"{TICKETS}/{t}/status", "operator_agent", json={"status": "done"})
    assert response.status_code == 422 and error_fields(response) == ["status"]


def test_customers_may_only_close_or_reopen(client, world):
    t = raise_ticket(client, world)["id"]

    def as_customer(status: str) -> int:
        return world.call(client, "POST", f"{TICKETS}/{t}/status", "customer_a_member",
                          json={"status": status}).status_code

    for status in ("acknowledged", "in_progress", "waiting_customer"):
        assert as_customer(status) == 403, status
        move(client, world, t, status)
    assert as_customer("in_progress") == 403  # waiting on the customer: they answer with a reply instead
    assert as_customer("resolved") == 403
    move(client, world, t, "resolved")
    assert move(client, world, t, "closed", "customer_a_member")["status"] == "closed"
    assert move(client, world, t, "in_progress", "customer_a_admin")["status"] == "in_progress"
    move(client, world, t, "resolved")
    assert move(client, world, t, "in_progress", "customer_a_member")["reopened_count"] == 2


# --- replies, notes and clocks -------------------------------------------------------------------------


def test_the_first_public_agent_reply_meets_first_response_and_acknowledges(client, world):
    t = raise_ticket(client, world)["id"]
    reply(client, world, t, "客户补充：是 24 口。", "customer_a_member")
    reply(client, world, t, "内部：先查 VLAN。", public=False)
    body = read(client, world, t)
    assert body["status"] == "new" and body["first_responded_at"] is None
    assert clock(body, "first_response")["state"] == "running"

    answer = reply(client, world, t, "您好，工程师正在排查。")
    body = read(client, world, t)
    assert body["status"] == "acknowledged"
    answered = instant(answer["at"])
    assert instant(body["first_responded_at"]) == instant(body["acknowledged_at"]) == answered
    first = clock(body, "first_response")
    assert (first["state"], instant(first["met_at"]), first["seconds_left"]) == ("met", answered, None)
    assert clock(body, "resolution")["state"] == "running"
    assert [e["kind"] for e in body["events"]][-2:] == ["reply", "status"]

    reply(client, world, t, "第二次回复。")
    assert instant(clock(read(client, world, t), "first_response")["met_at"]) == answered


def test_internal_notes_are_invisible_to_customers_who_cannot_write_them(client, world):
    t = raise_ticket(client, world)["id"]
    change(client, world, t, assignee_id=world.users["operator_agent"].id)
    reply(client, world, t, "内部：客户合同即将到期。", public=False)
    reply(client, world, t, "您好，已受理。")

    agent_view = read(client, world, t)
    assert {"note", "assignee", "reply"} <= {e["kind"] for e in agent_view["events"]}
    customer_view = read(client, world, t, "customer_a_member")
    assert {e["kind"] for e in customer_view["events"]} == {"created", "reply", "status"}
    assert all(e["is_public"] for e in customer_view["events"])
    assert "合同" not in str(customer_view)

    denied = world.call(client, "POST", f"{TICKETS}/{t}/comments", "customer_a_member",
                        json={"body": "我也想写内部备注", "public": False})
    assert denied.status_code == 403
    assert len(read(client, world, t)["events"]) == len(agent_view["events"])


def test_a_closed_ticket_takes_no_reply_until_reopened(client, world):
    t = raise_ticket(client, world)["id"]
    move(client, world, t, "resolved")
    move(client, world, t, "closed", "customer_a_member")
    refused = world.call(client, "POST", f"{TICKETS}/{t}/comments", "customer_a_member", json={"body": "还是不行"})
    assert refused.status_code == 409 and error_fields(refused) == ["status"]
    empty = world.call(client, "POST", f"{TICKETS}/{t}/comments", "customer_a_member", json={"body": ""})
    assert empty.status_code == 422 and error_fields(empty) == ["body"]


def test_waiting_on_the_customer_pauses_the_clocks_and_their_reply_resumes_them(client, world):
    t = raise_ticket(client, world)["id"]
    body = move(client, world, t, "waiting_customer", comment="请提供设备序列号。")
    assert {(c["metric"], c["state"], c["paused"]) for c in body["clocks"]} == {
        ("first_response", "paused", True), ("resolution", "paused", True)}
    assert all(c["seconds_left"] > 0 for c in body["clocks"])

    reply(client, world, t, "序列号 SN-2026-0042。", "customer_a_member")
    body = read(client, world, t)
    assert body["status"] == "in_progress"
    assert {(c["state"], c["paused"]) for c in body["clocks"]} == {("running", False)}
    resumed = body["events"][-1]
    assert (resumed["kind"], resumed["from_value"], resumed["to_value"], resumed["actor_id"]) == (
        "status", "waiting_customer", "in_progress", world.users["customer_a_member"].id)


def test_resolving_meets_resolution_and_reopening_starts_a_new_cycle(client, world):
    t = raise_ticket(client, world, priority="P2")["id"]
    reply(client, world, t, "已受理。")
    resolved = move(client, world, t, "resolved")
    first = clock(resolved, "resolution")
    assert (first["cycle"], first["state"]) == (1, "met")
    assert instant(first["met_at"]) == instant(resolved["resolved_at"])

    reopened = move(client, world, t, "in_progress", "customer_a_member", comment="问题复现了")
    assert reopened["reopened_count"] == 1 and reopened["resolved_at"] is None
    second = clock(reopened, "resolution")
    assert (second["cycle"], second["state"], second["target_seconds"]) == (2, "running", 960 * 60)
    assert instant(second["started_at"]) > instant(first["met_at"])
    assert clock(reopened, "first_response")["state"] == "met"  # answered once, stays answered
    event = reopened["events"][-1]
    assert (event["kind"], event["from_value"], event["to_value"], event["body"]) == (
        "reopened", "resolved", "in_progress", "问题复现了")

    move(client, world, t, "resolved")
    move(client, world, t, "closed")
    again = move(client, world, t, "in_progress")  # an agent reopens a closed ticket
    assert again["reopened_count"] == 2 and again["closed_at"] is None
    assert (clock(again, "resolution")["cycle"], clock(again, "resolution")["state"]) == (3, "running")


def test_a_priority_raise_recomputes_due_times_from_the_tickets_creation(client, world):
    body = raise_ticket(client, world, priority="P3")
    t, created = body["id"], instant(body["created_at"])
    before = {m: due(body, m) for m in ("first_response", "resolution")}

    body = change(client, world, t, priority="P1")
    cal = get_builtin("cn-standard")
    for metric, minutes in (("first_response", 30), ("resolution", 480)):
        got = clock(body, metric)
        assert instant(got["started_at"]) == created  # retroactive, not restarted now
        assert got["target_seconds"] == minutes * 60
        assert due(body, metric) == add_working_time(cal, created, minutes * 60)
        assert due(body, metric) < before[metric]
    event = [e for e in body["events"] if e["kind"] == "priority"][-1]
    assert (event["from_value"], event["to_value"], event["is_public"]) == ("P3", "P1", True)

    denied = world.call(client, "PATCH", f"{TICKETS}/{t}", "customer_a_admin", json={"priority": "P4"})
    assert denied.status_code == 403


@pytest.mark.parametrize(("fields", "field"), [
    ({"priority": None}, "priority"),
    ({"priority": "P0"}, "priority"),
    ({"assignee_id": "customer_a_member"}, "assignee_id"),
    ({"assignee_id": 987654}, "assignee_id"),
    ({"sla_policy_id": 2}, "sla_policy_id"),
])
def test_bad_changes_are_422_naming_the_field(client, world, fields, field):
    t = raise_ticket(client, world)["id"]
    if fields.get("assignee_id") == "customer_a_member":
        fields = {"assignee_id": world.users["customer_a_member"].id}
    response = world.call(client, "PATCH", f"{TICKETS}/{t}", "operator_agent", json=fields)
    assert response.status_code == 422, response.text
    assert error_fields(response) == [field]


def test_a_long_new_title_is_recorded_on_the_timeline(client, world):
    """Titles may be 200 characters; the change event keeps old and new (on PostgreSQL too)."""
    t = raise_ticket(client, world, title="旧" * 150)["id"]
    body = change(client, world, t, title="新" * 200)
    assert body["title"] == "新" * 200
    [event] = [e for e in body["events"] if e["kind"] == "title"]
    assert "新" in (event["to_value"] or "") + (event["body"] or "")


# --- satisfaction --------------------------------------------------------------------------------------


def test_customers_rate_a_resolved_or_closed_ticket_from_1_to_5(client, world):
    t = raise_ticket(client, world)["id"]
    early = world.call(client, "POST", f"{TICKETS}/{t}/rating", "customer_a_member", json={"score": 5})
    assert early.status_code == 409 and error_fields(early) == ["status"]
    move(client, world, t, "resolved")
    for score in (0, 6, "good"):
        bad = world.call(client, "POST", f"{TICKETS}/{t}/rating", "customer_a_member", json={"score": score})
        assert bad.status_code == 422 and error_fields(bad) == ["score"]
    agent = world.call(client, "POST", f"{TICKETS}/{t}/rating", "operator_agent", json={"score": 5})
    assert agent.status_code == 403

    rated = world.call(client, "POST", f"{TICKETS}/{t}/rating", "customer_a_member",
                       json={"score": 4, "comment": "响应及时，上门稍慢。"})
    assert rated.status_code == 200, rated.text
    assert (rated.json()["csat_score"], rated.json()["csat_comment"]) == (4, "响应及时，上门稍慢。")
    move(client, world, t, "closed", "customer_a_member")
    closed = world.call(client, "POST", f"{TICKETS}/{t}/rating", "customer_a_admin", json={"score": 1})
    assert closed.status_code == 200 and closed.json()["csat_score"] == 1
    csat = [e for e in read(client, world, t, "customer_a_member")["events"] if e["kind"] == "csat"]
    assert [e["to_value"] for e in csat] == ["4", "1"]


# --- attachments ---------------------------------------------------------------------------------------


def upload(client, world, ticket_id, actor, name, data, content_type, **params):  # type: ignore[no-untyped-def]
    return world.call(client, "POST", f"{TICKETS}/{ticket_id}/attachments", actor,
                      files={"file": (name, data, content_type)}, params=params)


@pytest.mark.parametrize(("name", "data", "content_type"), [
    ("机房照片.png", png_bytes(4, 3), "image/png"),
    ("巡检报告.pdf", pdf_bytes("inspection"), "application/pdf"),
    ("日志.txt", "2026-11-26 端口 down\n".encode(), "text/plain; charset=utf-8"),
], ids=["png", "pdf", "text"])
def test_an_allowed_file_uploads_and_downloads_byte_identical(client, world, name, data, content_type):
    t = raise_ticket(client, world)["id"]
    response = upload(client, world, t, "customer_a_member", name, data, content_type)
    assert response.status_code == 201, response.text
    att = response.json()
    assert (att["filename"], att["size"], att["is_public"]) == (name, len(data), True)
    assert att["content_type"] == content_type.split(";")[0]
    assert att["sha256"] == hashlib.sha256(data).hexdigest()

    for actor in ("customer_a_member", "operator_agent"):
        got = world.call(client, "GET", f"{TICKETS}/{t}/attachments/{att['id']}", actor)
        assert got.status_code == 200
        assert got.content == data
        assert got.headers["content-type"].startswith(att["content_type"])
        assert got.headers["content-disposition"].startswith("attachment;")
        assert "nosniff" in got.headers["x-content-type-options"]
    body = read(client, world, t, "customer_a_member")
    assert [a["id"] for a in body["attachments"]] == [att["id"]]
    assert body["events"][-1]["kind"] == "attachment" and body["events"][-1]["body"] == name


def test_a_path_in_the_file_name_is_dropped(client, world):
    t = raise_ticket(client, world)["id"]
    response = upload(client, world, t, "customer_a_member", "C:\\Users\\li\\照片.png", png_bytes(), "image/png")
    assert response.status_code == 201 and response.json()["filename"] == "照片.png"


@pytest.mark.parametrize(("name", "data", "content_type"), [
    ("setup.exe", b"MZ\x90\x00" + b"\x00" * 60, "application/x-msdownload"),
    ("setup.exe", b"MZ\x90\x00" + b"\x00" * 60, "application/octet-stream"),
    ("page.html", b"<html><script>alert(1)</script></html>", "text/html"),
    ("drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
    ("photo.png", b"this is only text pretending to be a PNG", "image/png"),
    ("photo.jpg", png_bytes(), "image/jpeg"),
    ("report.pdf", b"PK\x03\x04 a zip, not a PDF", "application/pdf"),
    ("notes.txt", b"\xff\xfe\x00b\x00i\x00n", "text/plain"),
    ("empty.png", b"", "image/png"),
    ("huge.png", b"\x89PNG" + b"\x00" * (MAX_ATTACHMENT_BYTES - 3), "image/png"),
    ("", png_bytes(), "image/png"),
], ids=["exe", "exe-octet-stream", "html", "svg", "text-as-png", "png-as-jpeg", "zip-as-pdf", "utf16-as-text",
        "empty", "over-10-mb", "no-name"])
def test_refused_files_are_422_naming_file_and_nothing_is_written(client, world, db, name, data, content_type):
    t = raise_ticket(client, world)["id"]
    events = count(db, TicketEvent, TicketEvent.ticket_id == t)
    response = upload(client, world, t, "customer_a_member", name, data, content_type)
    assert response.status_code == 422, response.text
    assert error_fields(response) == ["file"]
    assert count(db, TicketAttachment) == 0
    assert count(db, TicketEvent, TicketEvent.ticket_id == t) == events


def test_a_file_of_exactly_10_mb_is_accepted(client, world):
    t = raise_ticket(client, world)["id"]
    data = b"%PDF-1.4\n" + b"0" * (MAX_ATTACHMENT_BYTES - 9)
    response = upload(client, world, t, "operator_agent", "扫描件.pdf", data, "application/pdf")
    assert response.status_code == 201, response.text
    got = world.call(client, "GET", f"{TICKETS}/{t}/attachments/{response.json()['id']}", "customer_a_member")
    assert hashlib.sha256(got.content).hexdigest() == hashlib.sha256(data).hexdigest()


def test_a_long_utf8_text_file_in_chinese_is_accepted(client, world):
    """Longer than the 64 KiB the type check reads, with a 3-byte character across that boundary."""
    data = ("日志：2026-11-26 10:00 核心交换机 24 口 down\n" * 2000).encode()
    assert len(data) > 65536
    t = raise_ticket(client, world)["id"]
    response = upload(client, world, t, "customer_a_member", "switch.log.txt", data, "text/plain")
    assert response.status_code == 201, response.text
    got = world.call(client, "GET", f"{TICKETS}/{t}/attachments/{response.json()['id']}", "operator_agent")
    assert got.content == data


def test_a_file_whose_name_says_executable_is_refused_whatever_type_it_declares(client, world, db):
    """The saved file keeps its name: `setup.exe` declared as text/plain must not reach an agent's disk."""
    t = raise_ticket(client, world)["id"]
    for name in ("setup.exe", "run.bat", "invoice.pdf.js"):
        response = upload(client, world, t, "customer_a_member", name, b"echo hello\r\n", "text/plain")
        assert response.status_code == 422, (name, response.text)
        assert error_fields(response) == ["file"]
    assert count(db, TicketAttachment) == 0


def test_an_internal_attachment_is_invisible_to_the_customer(client, world):
    t = raise_ticket(client, world)["id"]
    internal = upload(client, world, t, "operator_agent", "内部拓扑.png", png_bytes(), "image/png", public="false")
    assert internal.status_code == 201 and internal.json()["is_public"] is False
    att = internal.json()["id"]

    customer = read(client, world, t, "customer_a_member")
    assert customer["attachments"] == []
    assert "内部拓扑" not in str(customer["events"])
    assert world.call(client, "GET", f"{TICKETS}/{t}/attachments/{att}", "customer_a_member").status_code == 404
    assert world.call(client, "GET", f"{TICKETS}/{t}/attachments/{att}", "operator_agent").status_code == 200
    assert [a["id"] for a in read(client, world, t)["attachments"]] == [att]

    denied = upload(client, world, t, "customer_a_member", "mine.png", png_bytes(), "image/png", public="false")
    assert denied.status_code == 403


def test_an_attachment_is_only_found_under_its_own_ticket(client, world):
    t1, t2 = raise_ticket(client, world)["id"], raise_ticket(client, world)["id"]
    att = upload(client, world, t1, "customer_a_member", "a.png", png_bytes(), "image/png").json()["id"]
    assert world.call(client, "GET", f"{TICKETS}/{t2}/attachments/{att}", "operator_agent").status_code == 404
    assert world.call(client, "GET", f"{TICKETS}/{t1}/attachments/987654", "operator_agent").status_code == 404


# --- idempotent retries --------------------------------------------------------------------------------


def test_the_same_idempotency_key_returns_the_same_ticket_and_creates_one(client, world, db):
    body = {"title": "视频会议终端无声", "description": "会议室 A 终端无声音。", "priority": "P2"}
    headers = {"Idempotency-Key": "portal-form-7f3a"}
    first = world.call(client, "POST", TICKETS, "customer_a_member", json=body, headers=headers)
    again = world.call(client, "POST", TICKETS, "customer_a_member", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("idempotent-replay") == "true"
    assert again.json()["id"] == first.json()["id"]
    assert count(db, Ticket) == 1

    other = world.call(client, "POST", TICKETS, "customer_a_member", json={**body, "priority": "P1"},
                       headers=headers)
    assert other.status_code == 409 and error_fields(other) == ["Idempotency-Key"]
    elsewhere = world.call(client, "POST", TICKETS, "customer_a_admin", json=body, headers=headers)
    assert elsewhere.status_code == 201 and elsewhere.json()["id"] != first.json()["id"]  # keys are per caller
    assert count(db, Ticket) == 2
