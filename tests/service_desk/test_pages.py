"""The service desk's pages through the HTML forms: the customer portal, the agent desk, scoping and bad input."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huoban.identity.service import actor_for
from huoban.models import Organization, Ticket, TicketAttachment, TicketEvent
from huoban.service_desk import service
from huoban.service_desk.schemas import CommentIn, TicketCreate, TransitionIn
from tests.pages import sign_in
from tests.world import World


def act(db: Session, world: World, name: str) -> Any:
    user = world.users[name]
    return actor_for(user, db.get_one(Organization, user.org_id))


def make_ticket(db: Session, world: World, who: str = "customer_a_admin", **fields: Any) -> Ticket:
    data = {"title": "门户网站无法访问", "description": "上午 9 点起首页 502。", "priority": "P2",
            "site_region_code": "330203", **fields}
    if who.startswith("operator"):
        data.setdefault("customer_org_id", world.orgs["customer_a"].id)
    ticket = service.open_ticket(db, act(db, world, who), TicketCreate(**data), channel="portal")
    db.commit()
    return ticket


def count(db: Session, model: Any) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def as_user(client: TestClient, world: World, name: str) -> str:
    client.cookies.clear()
    return sign_in(client, world.users[name].email)


def clock_state(html: str, metric: str) -> str:
    match = re.search(rf'class="clock-card [^"]*" data-metric="{metric}" data-state="(\w+)"', html)
    assert match, f"no {metric} clock card"
    return match.group(1)


# --- the portal ----------------------------------------------------------------------------------


def test_portal_lists_the_organizations_tickets_with_badges(client, world, db):
    mine = make_ticket(db, world, title="甲客户的工单")
    make_ticket(db, world, "customer_b_admin", title="乙客户的工单", site_region_code="370102")
    as_user(client, world, "customer_a_member")
    page = client.get("/tickets")
    assert page.status_code == 200
    assert "甲客户的工单" in page.text and "乙客户的工单" not in page.text
    assert f'href="/tickets/{mine.id}"' in page.text
    assert 'data-metric="first_response"' in page.text and "clock tone-" in page.text
    assert 'data-status="new"' in page.text
    assert 'href="/tickets"' in client.get("/").text  # in the menu


def test_customer_raises_a_ticket_with_an_attachment(client, world, db):
    csrf = as_user(client, world, "customer_a_admin")
    assert client.get("/tickets/new").status_code == 200
    form = {"csrf_token": csrf, "title": "视频会议系统无声音", "description": "所有会议室都听不到远端声音。",
            "category": "fault", "priority": "P1", "site_region_code": "330203", "site_address": "海曙区解放北路 91 号",
            "on_site_required": "1"}
    r = client.post("/tickets/new", data=form, files={"file": ("现象.txt", "远端无声".encode(), "text/plain")},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    ticket = db.scalar(select(Ticket).where(Ticket.title == "视频会议系统无声音"))
    assert r.headers["location"] == f"/tickets/{ticket.id}"
    assert (ticket.channel, ticket.priority, ticket.on_site_required) == ("portal", "P1", True)
    page = client.get(f"/tickets/{ticket.id}")
    assert page.status_code == 200
    assert "所有会议室都听不到远端声音。" in page.text and "浙江省宁波市海曙区" in page.text
    for metric in ("first_response", "resolution", "on_site"):
        assert clock_state(page.text, metric) == "running"
    att = db.scalar(select(TicketAttachment).where(TicketAttachment.ticket_id == ticket.id))
    assert f"/tickets/{ticket.id}/attachments/{att.id}" in page.text
    download = client.get(f"/tickets/{ticket.id}/attachments/{att.id}")
    assert download.status_code == 200 and download.content == "远端无声".encode()
    assert download.headers["content-disposition"].startswith("attachment;")


@pytest.mark.parametrize(("change", "field_text"), [
    ({"title": "  "}, "title"),
    ({"site_region_code": "999999"}, "999999"),
    ({"priority": "P9"}, "priority"),
])
def test_bad_input_is_shown_again_with_422_and_nothing_is_written(client, world, db, change, field_text):
    csrf = as_user(client, world, "customer_a_admin")
    before = (count(db, Ticket), count(db, TicketEvent))
    form = {"csrf_token": csrf, "title": "打印机卡纸", "description": "三楼打印机反复卡纸，麻烦处理。",
            "priority": "P3", **change}
    r = client.post("/tickets/new", data=form)
    assert r.status_code == 422
    assert 'class="alert alert-error"' in r.text and 'class="field-error"' in r.text
    assert "三楼打印机反复卡纸，麻烦处理。" in r.text  # what was typed is kept
    assert field_text in r.text
    assert (count(db, Ticket), count(db, TicketEvent)) == before


def test_a_refused_attachment_takes_the_new_ticket_back_with_it(client, world, db):
    csrf = as_user(client, world, "customer_a_admin")
    before = (count(db, Ticket), count(db, TicketAttachment))
    r = client.post("/tickets/new", data={"csrf_token": csrf, "title": "附件测试", "description": "见附件"},
                    files={"file": ("setup.exe", b"MZ\x90\x00", "application/x-msdownload")})
    assert r.status_code == 422
    assert "application/x-msdownload" in r.text
    assert (count(db, Ticket), count(db, TicketAttachment)) == before


def test_form_posts_need_the_csrf_token(client, world, db):
    ticket = make_ticket(db, world)
    as_user(client, world, "customer_a_admin")
    before = count(db, TicketEvent)
    assert client.post(f"/tickets/{ticket.id}/reply", data={"body": "无令牌"}).status_code == 403
    assert client.post("/tickets/new", data={"title": "无令牌", "description": "x"}).status_code == 403
    assert count(db, TicketEvent) == before


# --- scoping --------------------------------------------------------------------------------------


def test_another_customers_ticket_is_a_404_everywhere(client, world, db):
    ticket = make_ticket(db, world)
    att = service.add_attachment(db, act(db, world, "customer_a_admin"), ticket.id, "a.txt", "text/plain", b"hi")
    db.commit()
    csrf = as_user(client, world, "customer_b_admin")
    before = count(db, TicketEvent)
    assert client.get(f"/tickets/{ticket.id}").status_code == 404
    assert client.get(f"/tickets/{ticket.id}/attachments/{att.id}").status_code == 404
    for path, data in [("reply", {"body": "看看"}), ("status", {"status": "closed"}), ("rating", {"score": "1"})]:
        assert client.post(f"/tickets/{ticket.id}/{path}", data={"csrf_token": csrf, **data}).status_code == 404
    assert client.get(f"/desk/tickets/{ticket.id}").status_code == 404
    assert count(db, TicketEvent) == before
    assert "门户网站无法访问" not in client.get("/tickets").text


def test_the_desk_is_for_the_providers_agents(client, world, db):
    ticket = make_ticket(db, world)
    as_user(client, world, "customer_a_admin")
    for path in ("/desk", "/desk/queue", "/desk/new", f"/desk/tickets/{ticket.id}"):
        assert client.get(path).status_code == 404, path
    as_user(client, world, "partner_a_admin")
    for path in ("/desk", "/tickets", "/tickets/new", f"/tickets/{ticket.id}"):
        assert client.get(path).status_code == 404, path
    assert 'href="/tickets"' not in client.get("/").text and 'href="/desk"' not in client.get("/").text
    as_user(client, world, "operator_system_admin")
    assert client.get("/desk").status_code == 403
    client.cookies.clear()
    assert client.get("/desk", follow_redirects=False).headers["location"] == "/login?next=/desk"


def test_operators_land_on_the_desk(client, world, db):
    ticket = make_ticket(db, world)
    as_user(client, world, "operator_agent")
    assert 'href="/desk"' in client.get("/").text
    assert client.get("/tickets", follow_redirects=False).headers["location"] == "/desk"
    r = client.get(f"/tickets/{ticket.id}", follow_redirects=False)
    assert r.headers["location"] == f"/desk/tickets/{ticket.id}"


# --- the desk -------------------------------------------------------------------------------------


def queue_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-ticket="(\d+)"', html)]


def test_queue_puts_least_time_left_first_and_filters(client, world, db):
    slow = make_ticket(db, world, title="P4 咨询", priority="P4", category="consultation")
    urgent = make_ticket(db, world, "customer_b_admin", title="P1 停电", priority="P1", site_region_code="370102")
    done = make_ticket(db, world, title="已解决的工单", priority="P1")
    service.transition(db, act(db, world, "operator_agent"), done.id, TransitionIn(status="resolved"))
    db.commit()
    as_user(client, world, "operator_agent")
    page = client.get("/desk")
    assert page.status_code == 200
    assert queue_ids(page.text) == [urgent.id, slow.id]  # open only, P1 (30 working minutes) first
    assert 'hx-trigger="every 60s"' in page.text and 'hx-get="/desk/queue?' in page.text
    b = world.orgs["customer_b"].id
    assert queue_ids(client.get(f"/desk?customer={b}").text) == [urgent.id]
    assert queue_ids(client.get("/desk?region=37").text) == [urgent.id]
    assert queue_ids(client.get("/desk?region=3302").text) == [slow.id]
    assert queue_ids(client.get("/desk?region=330203").text) == [slow.id]
    assert queue_ids(client.get("/desk?priority=P4").text) == [slow.id]
    assert queue_ids(client.get("/desk?assignee=mine").text) == []
    assert set(queue_ids(client.get("/desk?status=all").text)) == {urgent.id, slow.id, done.id}
    assert queue_ids(client.get("/desk?status=resolved").text) == [done.id]
    bad = client.get("/desk?region=3x")
    assert bad.status_code == 200 and 'class="alert alert-error"' in bad.text
    fragment = client.get("/desk/queue?priority=P1")
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert queue_ids(fragment.text) == [urgent.id]


def test_agent_replies_publicly_and_notes_internally(client, world, db):
    ticket = make_ticket(db, world)
    csrf = as_user(client, world, "operator_agent")
    page = client.get(f"/desk/tickets/{ticket.id}")
    assert page.status_code == 200 and 'value="internal"' in page.text
    r = client.post(f"/tickets/{ticket.id}/reply", data={"csrf_token": csrf, "body": "已收到，正在排查。",
                                                         "visibility": "public"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith(f"/desk/tickets/{ticket.id}")
    client.post(f"/tickets/{ticket.id}/reply", data={"csrf_token": csrf, "body": "怀疑是负载均衡配置问题。",
                                                     "visibility": "internal"})
    page = client.get(f"/desk/tickets/{ticket.id}")
    assert "怀疑是负载均衡配置问题。" in page.text and "internal-badge" in page.text
    assert clock_state(page.text, "first_response") == "met"
    db.refresh(ticket)
    assert ticket.status == "acknowledged"
    as_user(client, world, "customer_a_member")
    page = client.get(f"/tickets/{ticket.id}")
    assert "已收到，正在排查。" in page.text
    assert "怀疑是负载均衡配置问题。" not in page.text and "internal-badge" not in page.text
    assert 'value="internal"' not in page.text
    assert clock_state(page.text, "first_response") == "met"


def test_customer_cannot_write_internal_notes(client, world, db):
    ticket = make_ticket(db, world)
    csrf = as_user(client, world, "customer_a_admin")
    before = count(db, TicketEvent)
    r = client.post(f"/tickets/{ticket.id}/reply",
                    data={"csrf_token": csrf, "body": "偷偷写", "visibility": "internal"})
    assert r.status_code == 403 and "偷偷写" in r.text
    assert count(db, TicketEvent) == before


def test_resolve_rate_close_and_reopen(client, world, db):
    ticket = make_ticket(db, world)
    csrf = as_user(client, world, "operator_agent")
    page = client.get(f"/desk/tickets/{ticket.id}")
    for move in service.TRANSITIONS["new"]:
        assert f'data-move="{move}"' in page.text
    r = client.post(f"/tickets/{ticket.id}/status", data={"csrf_token": csrf, "status": "resolved",
                                                          "comment": "已重启网关。"}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(f"/desk/tickets/{ticket.id}")
    assert clock_state(page.text, "resolution") == "met" and 'data-move="closed"' in page.text

    csrf = as_user(client, world, "customer_a_admin")
    page = client.get(f"/tickets/{ticket.id}")
    assert 'id="rating"' in page.text and 'data-move="closed"' in page.text and 'data-move="in_progress"' in page.text
    bad = client.post(f"/tickets/{ticket.id}/rating", data={"csrf_token": csrf, "score": "9", "comment": "很好"})
    assert bad.status_code == 422 and "很好" in bad.text
    none = client.post(f"/tickets/{ticket.id}/rating", data={"csrf_token": csrf, "comment": "没选星"})
    assert none.status_code == 422
    db.refresh(ticket)
    assert ticket.csat_score is None
    r = client.post(f"/tickets/{ticket.id}/rating", data={"csrf_token": csrf, "score": "5", "comment": "很满意"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/tickets/{ticket.id}#rating"
    db.refresh(ticket)
    assert (ticket.csat_score, ticket.csat_comment) == (5, "很满意")
    assert client.post(f"/tickets/{ticket.id}/status", data={"csrf_token": csrf, "status": "closed"},
                       follow_redirects=False).status_code == 303
    page = client.get(f"/tickets/{ticket.id}")
    assert 'id="reply"' not in page.text and 'data-move="in_progress"' in page.text
    client.post(f"/tickets/{ticket.id}/status", data={"csrf_token": csrf, "status": "in_progress",
                                                      "comment": "又出现了"})
    db.refresh(ticket)
    assert (ticket.status, ticket.reopened_count) == ("in_progress", 1)


def test_a_move_the_lifecycle_forbids_is_shown_with_the_reason(client, world, db):
    ticket = make_ticket(db, world)
    csrf = as_user(client, world, "operator_agent")
    before = count(db, TicketEvent)
    r = client.post(f"/tickets/{ticket.id}/status", data={"csrf_token": csrf, "status": "closed"})
    assert r.status_code == 409 and 'class="alert alert-error"' in r.text
    csrf = as_user(client, world, "customer_a_admin")
    r = client.post(f"/tickets/{ticket.id}/status", data={"csrf_token": csrf, "status": "resolved"})
    assert r.status_code == 403
    r = client.post(f"/tickets/{ticket.id}/status", data={"csrf_token": csrf, "status": "nonsense"})
    assert r.status_code == 422
    db.refresh(ticket)
    assert ticket.status == "new" and count(db, TicketEvent) == before


def test_agent_changes_priority_and_assignee(client, world, db):
    ticket = make_ticket(db, world, priority="P3")
    agent = world.users["operator_agent"]
    csrf = as_user(client, world, "operator_agent")
    r = client.post(f"/desk/tickets/{ticket.id}/update", data={"csrf_token": csrf, "priority": "P1",
                                                               "assignee_id": str(agent.id)}, follow_redirects=False)
    assert r.status_code == 303
    db.refresh(ticket)
    assert (ticket.priority, ticket.assignee_id) == ("P1", agent.id)
    assert queue_ids(client.get("/desk?assignee=mine").text) == [ticket.id]
    before = count(db, TicketEvent)
    customer = world.users["customer_a_admin"]
    r = client.post(f"/desk/tickets/{ticket.id}/update", data={"csrf_token": csrf, "priority": "P1",
                                                               "assignee_id": str(customer.id)})
    assert r.status_code == 422 and 'class="field-error"' in r.text
    r = client.post(f"/desk/tickets/{ticket.id}/update", data={"csrf_token": csrf, "priority": "P1",
                                                               "assignee_id": "abc"})
    assert r.status_code == 422
    db.refresh(ticket)
    assert ticket.assignee_id == agent.id and count(db, TicketEvent) == before


def test_engineer_arrival_meets_the_on_site_clock(client, world, db):
    visit = make_ticket(db, world, on_site_required=True)
    remote = make_ticket(db, world)
    csrf = as_user(client, world, "operator_agent")
    assert 'id="arrived"' in client.get(f"/desk/tickets/{visit.id}").text
    assert 'id="arrived"' not in client.get(f"/desk/tickets/{remote.id}").text
    client.post(f"/desk/tickets/{visit.id}/arrival", data={"csrf_token": csrf})
    page = client.get(f"/desk/tickets/{visit.id}")
    assert clock_state(page.text, "on_site") == "met" and 'id="arrived"' not in page.text
    r = client.post(f"/desk/tickets/{remote.id}/arrival", data={"csrf_token": csrf})
    assert r.status_code == 409


def test_agent_raises_a_ticket_on_a_customers_behalf(client, world, db):
    csrf = as_user(client, world, "operator_agent")
    b = world.orgs["customer_b"]
    caller = world.users["customer_b_admin"]
    form = {"csrf_token": csrf, "customer_org_id": str(b.id), "raised_by_id": str(caller.id), "channel": "phone",
            "title": "电话报障：变电站监控离线", "description": "客户来电：港沟站视频全部离线。", "priority": "P2",
            "site_region_code": "370112", "on_site_required": "1"}
    callers = client.get(f"/desk/new/callers?customer_org_id={b.id}")
    assert caller.email in callers.text and world.users["customer_a_admin"].email not in callers.text
    before = count(db, Ticket)
    missing = client.post("/desk/new", data={**form, "customer_org_id": ""})
    assert missing.status_code == 422 and "客户来电：港沟站视频全部离线。" in missing.text
    assert count(db, Ticket) == before
    r = client.post("/desk/new", data=form, follow_redirects=False)
    assert r.status_code == 303
    ticket = db.scalar(select(Ticket).where(Ticket.title == form["title"]))
    assert (ticket.customer_org_id, ticket.raised_by_id, ticket.channel) == (b.id, caller.id, "phone")
    assert r.headers["location"] == f"/desk/tickets/{ticket.id}"


def test_internal_attachments_stay_with_the_provider(client, world, db):
    ticket = make_ticket(db, world)
    service.comment(db, act(db, world, "operator_agent"), ticket.id, CommentIn(body="看日志", public=False))
    db.commit()
    csrf = as_user(client, world, "operator_agent")
    r = client.post(f"/tickets/{ticket.id}/attachments", data={"csrf_token": csrf, "internal": "1"},
                    files={"file": ("内部日志.txt", b"secret", "text/plain")}, follow_redirects=False)
    assert r.status_code == 303
    att = db.scalar(select(TicketAttachment).where(TicketAttachment.ticket_id == ticket.id))
    assert att.is_public is False
    empty = client.post(f"/tickets/{ticket.id}/attachments", data={"csrf_token": csrf})
    assert empty.status_code == 422
    as_user(client, world, "customer_a_admin")
    assert "内部日志.txt" not in client.get(f"/tickets/{ticket.id}").text
    assert client.get(f"/tickets/{ticket.id}/attachments/{att.id}").status_code == 404


RAW_ID = re.compile(r"\b(?:status|category|metric|clock|channel|role|kind|level):[a-z_]+\b")


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_ticket_pages_show_labels_not_ids(client, world, db, locale):
    ticket = make_ticket(db, world, on_site_required=True)
    agent = act(db, world, "operator_agent")
    service.comment(db, agent, ticket.id, CommentIn(body="已收到"))
    service.transition(db, agent, ticket.id, TransitionIn(status="waiting_customer"))
    db.commit()
    client.get(f"/lang/{locale}", params={"next": "/login"})
    as_user(client, world, "operator_agent")
    for path in ("/desk", "/desk?status=all", f"/desk/tickets/{ticket.id}", "/desk/new"):
        page = client.get(path)
        assert page.status_code == 200 and not RAW_ID.findall(page.text), (path, RAW_ID.findall(page.text))
    as_user(client, world, "customer_a_admin")
    for path in ("/tickets", f"/tickets/{ticket.id}", "/tickets/new"):
        page = client.get(path)
        assert page.status_code == 200 and not RAW_ID.findall(page.text), (path, RAW_ID.findall(page.text))


def test_ids_beyond_the_database_are_not_found_not_errors(client, world, db):
    ticket = make_ticket(db, world)
    csrf = as_user(client, world, "operator_agent")
    huge = str(2**63)
    assert client.get(f"/desk/tickets/{huge}").status_code == 422
    assert client.get(f"/desk?customer={huge}&assignee={huge}").status_code == 200
    assert client.get(f"/desk/new/callers?customer_org_id={2**35}").status_code == 200
    r = client.post(f"/desk/tickets/{ticket.id}/update", data={"csrf_token": csrf, "assignee_id": huge})
    assert r.status_code == 422
    r = client.post("/desk/new", data={"csrf_token": csrf, "customer_org_id": huge, "title": "x", "description": "y"})
    assert r.status_code == 422
