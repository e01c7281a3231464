"""In a real browser on the demo world: a P1 ticket from portal to rating, and a ticket that breaches its SLA.

Selectors lean on ids and data attributes, not on the Chinese labels, so the journeys hold while the
catalogs catch up with new message ids.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from huoban.models import OutboxMessage, SlaClock, Ticket, TicketEvent
from tests.commands import huoban
from tests.e2e.conftest import login, shot

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
TICKET_URL = re.compile(r".*/(desk/)?tickets/(\d+)(#.*)?$")


def ticket_id_of(url: str) -> int:
    match = TICKET_URL.match(url)
    assert match, url
    return int(match.group(2))


def clock_state(page, metric: str) -> str:  # type: ignore[no-untyped-def]
    return page.locator(f"#clocks .clock-card[data-metric={metric}]").get_attribute("data-state")


def test_customer_raises_a_p1_the_agent_resolves_it_and_the_customer_rates_it(browser, demo_server):
    customer = browser.new_context(**DESKTOP)
    page = customer.new_page()
    login(page, demo_server, "han.bing@zjdata.gov.cn")
    page.click("nav#mainnav a[href='/tickets']")
    page.wait_for_url(f"{demo_server}/tickets")
    page.wait_for_load_state()
    assert page.locator("#tickets tbody tr[data-ticket]").count() == 3  # the demo's tickets of this customer
    shot(page, "sd-portal")
    page.click("#raise")
    page.fill("input[name=title]", "一体化智能化公共数据平台统一门户无法访问")
    page.fill("textarea[name=description]", "10:05 起统一门户首页返回 502，所有地市用户无法登录，影响全省办件。")
    page.select_option("select[name=category]", "incident")
    page.select_option("select[name=priority]", "P1")
    page.fill(".region-picker input[type=search]", "西湖区")
    page.click("#site-region-results a[href='/regions/330106']")
    assert page.input_value("#site_region_code") == "330106"
    assert "西湖区" in page.inner_text("#site_region_name")
    page.fill("input[name=site_address]", "杭州市西湖区省府路 8 号 数据大楼")
    page.set_input_files("input[name=file]", files=[
        {"name": "nginx-error.log", "mimeType": "text/plain", "buffer": b"upstream timed out (110) while connecting"},
    ])
    shot(page, "sd-new-ticket")
    page.click("#ticket-form button[type=submit]")
    page.wait_for_url(TICKET_URL)
    ticket_id = ticket_id_of(page.url)
    assert page.locator("#attachments a", has_text="nginx-error.log").count() == 1
    assert clock_state(page, "first_response") == "running"
    assert clock_state(page, "resolution") == "running"

    agent = browser.new_context(**DESKTOP)
    desk = agent.new_page()
    login(desk, demo_server, "liu.yang@huayun-cloud.cn")
    desk.click("nav#mainnav a[href='/desk']")
    desk.wait_for_url(f"{demo_server}/desk")
    desk.wait_for_load_state()
    assert desk.locator("#queue[hx-trigger='every 60s']").count() == 1
    assert desk.locator("#queue-table .clock.tone-late").count() > 0  # the demo has breached tickets
    shot(desk, "sd-desk-queue")
    desk.select_option("select[name=customer]", label="浙江省大数据发展管理局")
    desk.click(".desk-filters button[type=submit]")
    desk.wait_for_url(re.compile(r".*/desk\?.*customer=\d+"))
    desk.wait_for_load_state()
    top = desk.locator("#queue-table tbody tr").first
    assert top.get_attribute("data-ticket") == str(ticket_id)
    top.locator("a.ticket-title").click()
    desk.wait_for_url(f"{demo_server}/desk/tickets/{ticket_id}")
    desk.fill("#reply textarea[name=body]", "您好，已收到。初步判断为统一门户负载均衡后端全部失联，正在切换备用节点。")
    desk.check("#reply input[name=visibility][value=public]")
    desk.click("#reply button[type=submit]")
    desk.wait_for_url(re.compile(rf".*/desk/tickets/{ticket_id}#timeline$"))
    assert clock_state(desk, "first_response") == "met"
    desk.fill("#actions textarea[name=comment]", "备用节点已接管，门户恢复访问。")
    desk.click("#actions button[data-move=resolved]")
    desk.wait_for_load_state()
    assert desk.locator(".ticket-head .badge[data-status=resolved]").count() == 1
    shot(desk, "sd-desk-ticket")

    page.reload()
    assert page.locator("#timeline", has_text="正在切换备用节点").count() == 1
    page.click("label[for=score-5]")
    page.fill("#rating textarea[name=comment]", "十分钟内恢复，响应很快。")
    page.click("#send-rating")
    page.wait_for_url(re.compile(rf".*/tickets/{ticket_id}#rating$"))
    assert page.locator("#rating .rated").count() == 1
    assert page.locator("#score-5").is_checked()
    assert clock_state(page, "first_response") == "met"
    assert clock_state(page, "resolution") == "met"
    assert page.locator("#clocks .clock-card.tone-met").count() == 2
    shot(page, "sd-customer-rated")
    customer.close()
    agent.close()

    phone = browser.new_context(**PHONE)
    small = phone.new_page()
    login(small, demo_server, "han.bing@zjdata.gov.cn")
    small.goto(f"{demo_server}/tickets/{ticket_id}")
    assert small.evaluate("document.documentElement.scrollWidth") <= 390
    shot(small, "sd-phone-ticket")
    small.goto(f"{demo_server}/tickets")
    assert small.evaluate("document.documentElement.scrollWidth") <= 390
    shot(small, "sd-phone-portal")
    small.goto(f"{demo_server}/tickets/new")
    assert small.evaluate("document.documentElement.scrollWidth") <= 390
    shot(small, "sd-phone-new")
    phone.close()


def shift_into_the_past(database_url: str, ticket_id: int, delta: timedelta) -> None:
    """Move a ticket's history back by `delta`, as if it had been raised then (exact on the 24x7 calendar)."""
    engine = create_engine(database_url)
    with Session(engine) as session, session.begin():
        ticket = session.get_one(Ticket, ticket_id)
        ticket.created_at -= delta
        ticket.updated_at -= delta
        for event in session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)):
            event.at -= delta
        for clock in session.scalars(select(SlaClock).where(SlaClock.ticket_id == ticket_id)):
            clock.started_at -= delta
            clock.due_at = clock.due_at - delta if clock.due_at else None
            if clock.next_escalation_at is not None:
                clock.next_escalation_at -= delta
    engine.dispose()


def sla_mail(database_url: str, ticket_id: int) -> list[OutboxMessage]:
    engine = create_engine(database_url)
    with Session(engine) as session:
        rows = list(session.scalars(select(OutboxMessage).where(OutboxMessage.topic.in_(["sla.breach",
                                                                                           "sla.escalation"]))))
        session.expunge_all()
    engine.dispose()
    return [m for m in rows if f"#{ticket_id} " in m.payload["subject"]]


def demo_tickets(database_url: str) -> list[Ticket]:
    engine = create_engine(database_url)
    with Session(engine) as session:
        rows = list(session.scalars(select(Ticket).order_by(Ticket.id)))
        session.expunge_all()
    engine.dispose()
    return rows


def test_a_ticket_that_breaches_escalates_to_the_account_manager(browser, demo_server, fresh_database_url):
    tickets = demo_tickets(fresh_database_url)
    assert {t.status for t in tickets} == {"new", "acknowledged", "in_progress", "waiting_customer", "resolved",
                                           "closed"}
    assert any(t.reopened_count for t in tickets) and any(t.csat_score for t in tickets)
    assert len({t.sla_policy_id for t in tickets}) == 2  # cn-standard (global default) and 国网山东's 7x24
    again = huoban(fresh_database_url, "demo")
    assert again.returncode == 0 and len(demo_tickets(fresh_database_url)) == len(tickets)

    agent = browser.new_context(**DESKTOP)
    desk = agent.new_page()
    login(desk, demo_server, "liu.yang@huayun-cloud.cn")
    desk.goto(f"{demo_server}/desk")
    desk.click("#raise")
    desk.select_option("select[name=customer_org_id]", label="国网山东省电力公司")
    desk.wait_for_selector("#raised_by_id option[value]:not([value=''])", state="attached")
    desk.select_option("#raised_by_id", label="董明 · dong.ming@sd.sgcc.com.cn")
    desk.fill("input[name=title]", "电话报障：济南 220kV 燕山站监控后台死机")
    desk.fill("textarea[name=description]", "董明来电：燕山站监控后台死机，远动数据中断，需工程师到站处理。")
    desk.select_option("select[name=priority]", "P1")
    desk.fill("#site_region_code", "370102")
    desk.check("input[name=on_site_required]")
    shot(desk, "sd-desk-new")
    desk.click("#ticket-form button[type=submit]")
    desk.wait_for_url(re.compile(r".*/desk/tickets/\d+$"))
    ticket_id = ticket_id_of(desk.url)
    assert sla_mail(fresh_database_url, ticket_id) == []

    # Two days pass on the 24x7 policy of this customer with nobody answering; the worker's sweep runs.
    shift_into_the_past(fresh_database_url, ticket_id, timedelta(days=2))
    ran = huoban(fresh_database_url, "worker", "--once")
    assert ran.returncode == 0, ran.stderr
    mail = sla_mail(fresh_database_url, ticket_id)
    breaches = [m for m in mail if m.topic == "sla.breach"]
    assert len(breaches) == 3  # first response, resolution, on-site arrival
    for message in breaches:
        assert "li.jing@huayun-cloud.cn" in message.payload["to"]  # the customer's account manager
        assert "zhang.wei@huayun-cloud.cn" in message.payload["to"]  # the operator's service manager
    assert any(m.topic == "sla.escalation" and "li.jing@huayun-cloud.cn" in m.payload["to"] for m in mail)
    again = huoban(fresh_database_url, "worker", "--once")
    assert again.returncode == 0 and len(sla_mail(fresh_database_url, ticket_id)) == len(mail)

    desk.goto(f"{demo_server}/desk/tickets/{ticket_id}")
    for metric in ("first_response", "resolution", "on_site"):
        assert clock_state(desk, metric) == "breached"
    assert desk.locator("#timeline .event.ev-breach.internal").count() == 3
    shot(desk, "sd-desk-breached")
    desk.goto(f"{demo_server}/desk")
    desk.select_option("select[name=customer]", label="国网山东省电力公司")
    desk.click(".desk-filters button[type=submit]")
    desk.wait_for_url(re.compile(r".*/desk\?.*customer=\d+"))
    desk.wait_for_load_state()
    top = desk.locator("#queue-table tbody tr").first
    assert top.get_attribute("data-ticket") == str(ticket_id)
    assert "row-late" in (top.get_attribute("class") or "")
    agent.close()

    phone = browser.new_context(**PHONE)
    small = phone.new_page()
    login(small, demo_server, "liu.yang@huayun-cloud.cn")
    small.goto(f"{demo_server}/desk")
    assert small.evaluate("document.documentElement.scrollWidth") <= 390
    shot(small, "sd-phone-desk")
    small.goto(f"{demo_server}/desk/tickets/{ticket_id}")
    shot(small, "sd-phone-desk-ticket")
    phone.close()

    customer = browser.new_context(**DESKTOP)
    page = customer.new_page()
    login(page, demo_server, "dong.ming@sd.sgcc.com.cn")
    page.goto(f"{demo_server}/tickets/{ticket_id}")
    assert clock_state(page, "resolution") == "breached"
    assert page.locator("#timeline .event.internal").count() == 0  # escalations are the provider's business
    customer.close()
