"""In a real browser on the demo world: from consultation to graded delivery.

The account manager 李静 records a consultation and an internal note on the Zhejiang data bureau's governance
engagement and drafts the next requirements version, moving one item up; the bureau's customer_admin 韩冰 reviews
the diff in the portal (the note and minutes never shown) and signs it off; 李静 wins the engagement and drafts a
change to the signed version, which 韩冰 approves; 李静 delivers and 韩冰 grades the deliverable, which makes the
engagement accepted. Selectors lean on ids and data attributes.

Every click that loads a page waits for that load (`submit` below, or `wait_for_url` with a pattern the current
URL does not match yet), and counts go through `expect(...).to_have_count`, which retries until the page agrees,
so nothing is read from the page being left.
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import login, shot

DESKTOP = {"viewport": {"width": 1280, "height": 900}}
ACCOUNT_MANAGER = "li.jing@huayun-cloud.cn"
CUSTOMER_ADMIN = "han.bing@zjdata.gov.cn"
TITLE = "一体化智能化公共数据平台数据治理二期"


def submit(page: Page, target: str | Locator) -> None:
    """Click something that loads a new page (a form post and its redirect) and wait until that page is loaded,
    even when its URL equals the current one."""
    with page.expect_navigation():
        (page.locator(target) if isinstance(target, str) else target).click()
    page.wait_for_load_state()


def move_stage(page: Page, stage: str) -> None:
    page.select_option("#stage-form select[name=stage]", stage)
    submit(page, "#stage-form button[type=submit]")
    expect(page.locator(f"#stage-now [data-stage={stage}]")).to_have_count(1)


def test_consultation_requirements_sign_off_change_order_and_grading(browser, demo_server):
    base = demo_server
    provider = browser.new_context(**DESKTOP).new_page()
    login(provider, base, ACCOUNT_MANAGER)
    provider.click("nav#mainnav a[href='/engagements']")
    provider.wait_for_url(f"{base}/engagements")
    provider.wait_for_load_state()
    assert provider.locator("#stage-counts a[data-stage=proposal] .count").inner_text() != "0"
    shot(provider, "eng-list")
    provider.fill("#engagement-filters input[name=q]", "数据治理")
    submit(provider, "#engagement-filters button[type=submit]")
    provider.click(f"#engagements a.engagement-title:has-text('{TITLE}')")
    provider.wait_for_url(re.compile(r".*/engagements/\d+$"))
    engagement_url = provider.url
    engagement_id = int(engagement_url.rsplit("/", 1)[1])
    expect(provider.locator("#stage-now [data-stage=proposal]")).to_have_count(1)
    expect(provider.locator("#versions tr[data-version='2'][data-status=submitted]")).to_have_count(1)

    # 1. a consultation with people from both sides and the hours each spent
    provider.click("#consultations details.record > summary")
    provider.select_option("#consultation-form select[name=kind]", "meeting")
    provider.fill("#consultation-form input[name=held_on]", "2026-05-12")
    provider.fill("#consultation-form input[name=title]", "质量评价口径确认会")
    provider.select_option("select[name='people-0-user_id']", label="李静")
    provider.select_option("select[name='people-0-side']", "provider")
    provider.fill("input[name='people-0-hours']", "2")
    provider.select_option("select[name='people-1-user_id']", label="韩冰")
    provider.select_option("select[name='people-1-side']", "customer")
    provider.fill("#consultation-form textarea[name=minutes]", "重复率按身份证号统计，地市回流数据纳入治理范围。")
    provider.fill("#consultation-form textarea[name=follow_ups]", "王强更新需求说明书第 3 版。")
    provider.click("#consultation-form button[type=submit]")
    provider.wait_for_url(re.compile(r".*#consultations$"))
    meeting = provider.locator("#consultations .consultation", has_text="质量评价口径确认会")
    expect(meeting).to_have_count(1)
    assert "2.0" in meeting.locator(".effort").inner_text()
    provider.fill("#note-form textarea[name=body]", "局方信息中心倾向国产数据库，报价需含迁移服务。")
    provider.click("#note-form button[type=submit]")
    provider.wait_for_url(re.compile(r".*#timeline$"))
    expect(provider.locator("#timeline .event.internal[data-kind=note]", has_text="倾向国产数据库")).to_have_count(1)

    # 2. the next requirements version, submitted for sign-off
    provider.click("#edit-requirements")
    provider.wait_for_url(re.compile(r".*/requirements/edit$"))
    assert provider.input_value("input[name='items-1-key']") == "R-2"
    provider.fill("textarea[name='items-1-acceptance_criteria']", "人口库重复率降至 0.3% 以下，按身份证号统计")
    provider.fill("input[name='items-4-title']", "地市回流数据治理")
    provider.fill("textarea[name='items-4-acceptance_criteria']", "11 个地市回流数据全部纳入质量评价")
    provider.select_option("select[name='items-4-priority']", "must")
    provider.fill("#requirements-form textarea[name=note]", "第 3 版：补充地市回流数据与统计口径")
    # R-4 moves above R-3: the rows are numbered again in the order shown, the typed values go with them
    assert provider.input_value("input[name='items-3-key']") == "R-4"
    provider.locator("#item-rows .item-row[data-row='3'] [data-move=up]").click()
    assert provider.input_value("input[name='items-2-key']") == "R-4"
    assert provider.input_value("input[name='items-3-key']") == "R-3"
    assert provider.input_value("input[name='items-4-title']") == "地市回流数据治理"
    shot(provider, "eng-edit-requirements")
    provider.click("#submit-requirements")
    provider.wait_for_url(re.compile(r".*#requirements$"))
    expect(provider.locator("#versions tr[data-version='3'][data-status=submitted]")).to_have_count(1)
    expect(provider.locator("#versions tr[data-version='2'][data-status=superseded]")).to_have_count(1)
    shot(provider, "eng-detail")

    # 3. the customer_admin reviews the diff in the portal and signs off
    customer = browser.new_context(**DESKTOP).new_page()
    login(customer, base, CUSTOMER_ADMIN)
    customer.click("nav#mainnav a[href='/portal/engagements']")
    customer.wait_for_url(f"{base}/portal/engagements")
    customer.wait_for_load_state()
    row = customer.locator(f"#engagements tr[data-engagement='{engagement_id}']")
    expect(row.locator(".signoffs")).to_have_attribute("data-count", "1")
    row.locator("a.engagement-title").click()
    customer.wait_for_url(f"{base}/portal/engagements/{engagement_id}")
    diff = customer.locator("#diff-result")
    assert (diff.get_attribute("data-from"), diff.get_attribute("data-to")) == ("2", "3")
    expect(diff.locator(".diff-added", has_text="地市回流数据治理")).to_have_count(1)
    expect(diff.locator(".diff-moved")).to_have_count(1)
    assert "按身份证号统计" in diff.locator(".diff-changed[data-key=R-2] ins").all_inner_texts()[-1]
    expect(customer.locator("text=王强更新需求说明书")).to_have_count(0)  # no consultation minutes in the portal
    expect(customer.locator("text=质量评价口径确认会")).to_have_count(0)
    expect(customer.locator("text=倾向国产数据库")).to_have_count(0)  # nor internal notes
    customer.select_option(".diff-picker select[name=from]", "1")
    customer.click(".diff-picker button[type=submit]")
    customer.wait_for_url(re.compile(r".*from=1&to=3#diff$"))
    expect(customer.locator("#diff-result")).to_have_attribute("data-from", "1")
    shot(customer, "eng-portal-diff")
    customer.fill("#signoff-form textarea[name=comment]", "口径清楚，同意按第 3 版执行。")
    customer.click("#sign-off")
    customer.wait_for_url(re.compile(r".*#signoff$"))
    expect(customer.locator("#versions tr[data-version='3'][data-status=signed]")).to_have_count(1)
    expect(customer.locator("#current-items tr[data-key=R-5]", has_text="地市回流数据治理")).to_have_count(1)
    expect(customer.locator("#signoff-form")).to_have_count(0)

    # 4. won; a change to the signed version becomes a change order with effort and price impact
    provider.goto(engagement_url)
    expect(provider.locator("#versions tr[data-version='3'][data-status=signed]")).to_have_count(1)
    move_stage(provider, "bidding")
    move_stage(provider, "won")
    provider.click("#edit-requirements")
    provider.wait_for_url(re.compile(r".*/requirements/edit$"))
    expect(provider.locator("input[name=mode][value=change]")).to_have_count(1)
    provider.fill("input[name='items-5-title']", "数据质量月报")
    provider.fill("textarea[name='items-5-acceptance_criteria']", "每月 5 日前向局方推送上月质量月报")
    provider.fill("#requirements-form textarea[name=reason]", "局方要求增加数据质量月报，用于向省政府汇报。")
    provider.fill("#requirements-form input[name=effort_hours]", "120")
    provider.fill("#requirements-form input[name=price_impact]", "180000")
    provider.click("#submit-requirements")
    provider.wait_for_url(re.compile(r".*#change-orders$"))
    order = provider.locator("#change-order-table tr[data-status=pending]")
    expect(order).to_have_count(1)
    assert "¥180,000" in order.inner_text()

    # 5. the customer_admin approves the change order
    customer.goto(f"{base}/portal/engagements/{engagement_id}")
    pending = customer.locator("#change-orders .change-order[data-status=pending]")
    assert "¥180,000" in pending.locator(".price").inner_text()
    shot(customer, "eng-portal-change-order")
    pending.locator("textarea[name=comment]").fill("同意变更。")
    pending.locator(".approve-change").click()
    customer.wait_for_url(re.compile(r".*#change-orders$"))
    expect(customer.locator("#change-orders .change-order[data-status=approved]")).to_have_count(1)
    expect(customer.locator("#current-items tr", has_text="数据质量月报")).to_have_count(1)

    # 6. delivery: a deliverable linked to requirement items, submitted for acceptance
    provider.goto(engagement_url)
    move_stage(provider, "delivering")
    provider.click("#deliverables details.record > summary")
    provider.fill("#deliverable-form input[name=title]", "数据标准与质量评价体系")
    provider.check("#deliverable-form input[name=item_keys][value=R-1]")
    provider.check("#deliverable-form input[name=item_keys][value=R-3]")
    provider.click("#deliverable-form button[type=submit]")
    provider.wait_for_url(re.compile(r".*#deliverables$"))
    # the URL already ends in #deliverables: wait for the page the submit loads, not for the URL
    submit(provider, provider.locator("#deliverable-table tr[data-status=pending] .submit-deliverable"))
    expect(provider.locator("#deliverable-table tr[data-status=submitted]")).to_have_count(1)

    # 7. the customer grades it: score and comment; all deliverables accepted → the engagement is accepted
    customer.goto(f"{base}/portal/engagements/{engagement_id}")
    expect(customer.locator(".deliverable[data-status=submitted]")).to_have_count(1)
    deliverable_id = customer.locator(".deliverable[data-status=submitted]").get_attribute("data-deliverable")
    customer.click(f"label[for=score-{deliverable_id}-5]")
    customer.fill(".grade-form textarea[name=comment]", "标准体系完整，评审一次通过。")
    shot(customer, "eng-portal-grade")
    customer.click(".accept-deliverable")
    customer.wait_for_url(re.compile(r".*#deliverables$"))
    graded = customer.locator(f".deliverable[data-deliverable='{deliverable_id}']")
    expect(graded).to_have_attribute("data-status", "accepted")
    assert "5/5" in graded.locator(".graded").inner_text() and "评审一次通过" in graded.inner_text()
    expect(customer.locator("#stage-now [data-stage=accepted]")).to_have_count(1)
    shot(customer, "eng-portal-accepted")

    provider.goto(engagement_url)
    assert provider.locator("#deliverable-table tr[data-status=accepted] .score").inner_text() == "5/5"
    provider.goto(f"{base}/engagements/reports/effort?group_by=engagement")
    expect(provider.locator("#effort tr", has_text=TITLE)).to_have_count(1)
    shot(provider, "eng-effort")
