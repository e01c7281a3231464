"""In a real browser on the demo world: a P1 ticket needing a visit in a Shandong county is planned, accepted,
worked on a phone by a 齐鲁云维 engineer and confirmed by the customer; the ticket's on-site clock is met.

Selectors lean on ids and data attributes, not on the Chinese labels.
"""

from __future__ import annotations

import re

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from huoban.models import Engineer, Organization, User, WorkOrder
from tests.e2e.conftest import login, shot

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
CUSTOMER = "dong.ming@sd.sgcc.com.cn"
DISPATCHER = "chen.min@huayun-cloud.cn"
QILU = "山东齐鲁云维信息技术服务有限公司"


def engineer_of(database_url: str, order_id: int) -> tuple[str, str, str]:
    """(e-mail, name, organization) of the engineer the order is assigned to."""
    engine = create_engine(database_url)
    with Session(engine) as session:
        order = session.get_one(WorkOrder, order_id)
        assert order.engineer_id is not None
        engineer = session.get_one(Engineer, order.engineer_id)
        user = session.get_one(User, engineer.user_id)
        org = session.get_one(Organization, engineer.org_id)
        found = (user.email, user.display_name, org.name)
    engine.dispose()
    return found


def order_of_ticket(database_url: str, ticket_id: int) -> WorkOrder:
    engine = create_engine(database_url)
    with Session(engine) as session:
        order = session.scalar(select(WorkOrder).where(WorkOrder.ticket_id == ticket_id))
        assert order is not None
        session.expunge(order)
    engine.dispose()
    return order


def test_a_p1_visit_in_a_shandong_county_from_ticket_to_confirmation(browser, demo_server, fresh_database_url):
    # 1. the customer raises a P1 that needs an engineer at a county substation
    customer = browser.new_context(**DESKTOP)
    portal = customer.new_page()
    login(portal, demo_server, CUSTOMER)
    portal.goto(f"{demo_server}/tickets/new")
    portal.fill("input[name=title]", "沂南县 110kV 界湖站远动通信中断")
    portal.fill("textarea[name=description]", "界湖站远动装置与地调通信中断，调度无法监视该站，需工程师到站处理。")
    portal.select_option("select[name=category]", "fault")
    portal.select_option("select[name=priority]", "P1")
    portal.fill("#site_region_code", "371321")
    portal.fill("input[name=site_address]", "临沂市沂南县界湖街道 110kV 界湖变电站")
    portal.check("input[name=on_site_required]")
    portal.click("#ticket-form button[type=submit]")
    portal.wait_for_url(re.compile(r".*/tickets/\d+$"))
    ticket_id = int(portal.url.rsplit("/", 1)[1])
    assert portal.locator("#clocks .clock-card[data-metric=on_site]").get_attribute("data-state") == "running"

    # 2. the dispatcher creates the work order from the ticket, plans and accepts the proposal
    office = browser.new_context(**DESKTOP)
    board = office.new_page()
    login(board, demo_server, DISPATCHER)
    board.goto(f"{demo_server}/dispatch/orders/new?ticket_id={ticket_id}")
    assert board.locator("#from-ticket").count() == 1
    assert board.input_value("input[name=title]") == "沂南县 110kV 界湖站远动通信中断"
    board.check("input[name=required_skills][value=network]")
    board.check("input[name=required_skills][value=power_scada]")
    shot(board, "dispatch-new-order")
    board.click("#create-order")
    board.wait_for_url(re.compile(r".*/dispatch/orders/\d+\?done=created$"))
    order_id = order_of_ticket(fresh_database_url, ticket_id).id

    board.click("nav#mainnav a[href='/dispatch']")
    board.wait_for_url(re.compile(r".*/dispatch$"))
    board.wait_for_load_state()
    card = board.locator(f"#order-{order_id}")
    assert card.count() == 1
    assert card.locator(".countdown").count() == 1
    board.click("#plan")
    board.wait_for_selector(f"#order-{order_id} .proposal[data-proposal]")
    card = board.locator(f"#order-{order_id}")
    assert card.locator(".proposal-engineer").count() == 1
    assert card.locator(".proposal-main [data-on-time=yes]").count() == 1  # arrives within the four hours
    assert card.locator(".runner-up").count() == 1
    # 荣成, a coverage gap: late whoever goes, or nobody when the one engineer who could go is taken or off duty
    gap = board.locator(".wo-card", has_text="石岛站调度数据网交换机告警")
    assert gap.locator(".proposal-main [data-on-time=no], .proposal-none").count() == 1
    shot(board, "dispatch-board")
    card.locator("button.accept").click()
    board.wait_for_selector(f"#active-orders tr[data-order='{order_id}']")
    assert board.locator(f"#order-{order_id}").count() == 0
    email, name, org = engineer_of(fresh_database_url, order_id)
    assert org == QILU
    assert name in board.inner_text(f"#active-orders tr[data-order='{order_id}']")
    shot(board, "dispatch-board-accepted")

    # 3. the engineer works the order on a phone
    phone = browser.new_context(**PHONE)
    mine = phone.new_page()
    login(mine, demo_server, email)
    mine.goto(f"{demo_server}/my/orders")
    order_card = mine.locator(f"#order-{order_id}")
    assert order_card.get_attribute("data-status") == "assigned"
    assert mine.evaluate("document.documentElement.scrollWidth") <= 390
    shot(mine, "dispatch-phone-assigned")
    for step, status in (("accept", "accepted"), ("travel", "travelling"), ("check-in", "on_site")):
        mine.click(f"#order-{order_id} button[data-step={step}]")
        mine.wait_for_url(re.compile(r".*/my/orders\?done=.*"))
        assert mine.locator(f"#order-{order_id}").get_attribute("data-status") == status
    button = mine.locator(f"#order-{order_id} button[data-step=check-out]").bounding_box()
    assert button is not None and button["width"] > 300 and button["height"] >= 44  # thumb-sized
    notes = "远动装置通信板卡故障，已更换备件，与地调 104 通道恢复，遥信遥测正常。"
    mine.fill(f"#order-{order_id} textarea[name=notes]", notes)
    shot(mine, "dispatch-phone-on-site")
    mine.click(f"#order-{order_id} button[data-step=check-out]")
    mine.wait_for_url(re.compile(r".*/my/orders\?done=check_out.*"))
    assert mine.locator(f"#order-{order_id}").count() == 0
    assert mine.locator(f".recent li[data-order='{order_id}']").count() == 1
    assert mine.evaluate("document.documentElement.scrollWidth") <= 390
    shot(mine, "dispatch-phone-done")
    phone.close()

    # 4. the customer confirms the visit; the ticket's on-site clock was met at the check-in
    portal.goto(f"{demo_server}/visits")
    visit = portal.locator(f"#order-{order_id}")
    assert visit.get_attribute("data-status") == "done"
    assert name in visit.locator(".visit-engineer").inner_text()
    assert "遥信遥测正常" in visit.inner_text()
    visit.locator(f"label[for=rating-{order_id}-5]").click()
    visit.locator("textarea[name=comment]").fill("到站及时，处理专业。")
    visit.locator(f"button[data-confirm='{order_id}']").click()
    portal.wait_for_url(re.compile(r".*/visits\?done=confirmed.*"))
    assert portal.locator(f"#order-{order_id} .confirmed").count() == 1
    shot(portal, "dispatch-visits-confirmed")
    portal.goto(f"{demo_server}/tickets/{ticket_id}")
    assert portal.locator("#clocks .clock-card[data-metric=on_site]").get_attribute("data-state") == "met"
    assert portal.locator("#timeline .event[data-kind=on_site]").count() == 1
    shot(portal, "dispatch-ticket-on-site-met")

    board.goto(f"{demo_server}/dispatch/orders/{order_id}")
    kinds = board.locator("#timeline .event").evaluate_all("els => els.map(e => e.dataset.kind)")
    assert kinds[0] == "created" and "assigned" in kinds and kinds[-1] == "confirmed"
    shot(board, "dispatch-order-timeline")
    customer.close()
    office.close()
