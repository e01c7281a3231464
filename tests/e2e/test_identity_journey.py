"""In a real browser: each kind of organization sees only its own data."""

from __future__ import annotations

from tests.e2e.conftest import login, shot


def test_customer_sees_only_its_own_organization(browser, demo_server):
    page = browser.new_page()
    login(page, demo_server, "han.bing@zjdata.gov.cn")
    assert "浙江省大数据发展管理局" in page.inner_text("main")
    assert page.locator("nav#mainnav a", has_text="组织机构").count() == 0
    page.click("nav#mainnav >> text=我的组织")
    body = page.inner_text("main")
    assert "冯晓" in body and "韩冰" in body
    page.goto(f"{demo_server}/orgs")
    listed = page.inner_text("#orgs")
    assert "浙江省大数据发展管理局" in listed
    for other in ("国网山东省电力公司", "江南理工大学", "浙江数联系统集成有限公司", "华云伙伴科技有限公司"):
        assert other not in listed
    page.goto(f"{demo_server}/users")
    users = page.inner_text("#users")
    assert "feng.xiao@zjdata.gov.cn" in users
    assert "dong.ming@sd.sgcc.com.cn" not in users and "zhang.wei@huayun-cloud.cn" not in users
    shot(page, "customer-users")
    page.close()


def test_partner_sees_only_its_own_organization(browser, demo_server):
    page = browser.new_page()
    login(page, demo_server, "zhu.jun@qlyunwei.cn")
    page.goto(f"{demo_server}/orgs")
    listed = page.inner_text("#orgs")
    assert "山东齐鲁云维信息技术服务有限公司" in listed
    assert "浙江数联系统集成有限公司" not in listed and "国网山东省电力公司" not in listed
    response = page.goto(f"{demo_server}/orgs/1")
    assert response is not None and response.status == 404
    page.goto(f"{demo_server}/users")
    users = page.inner_text("#users")
    assert "hu.bin@qlyunwei.cn" in users and "xu.hao@zjshulian.com.cn" not in users
    shot(page, "partner-users")
    page.close()


def test_operator_admin_adds_a_user_and_language_switches(browser, demo_server):
    page = browser.new_page()
    login(page, demo_server, "huang.tao@huayun-cloud.cn")
    page.goto(f"{demo_server}/orgs")
    assert "国网山东省电力公司" in page.inner_text("#orgs")
    page.click("text=国网山东省电力公司")
    page.click("text=新建用户")
    page.fill("input[name=email]", "kong.wei@sd.sgcc.com.cn")
    page.fill("input[name=display_name]", "孔伟")
    page.select_option("select[name=role]", "customer_member")
    page.click("main button[type=submit]")
    assert page.locator("#initial-password").inner_text().strip()
    page.click("text=English")
    assert "Initial password" in page.inner_text("main") or "Sign out" in page.inner_text("header")
    page.goto(f"{demo_server}/orgs")
    assert "Organizations" in page.inner_text("h1")
    shot(page, "operator-orgs-en")
    page.close()


def test_phone_sized_login_and_menu(browser, demo_server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    login(page, demo_server, "sun.peng@zjshulian.com.cn")
    assert not page.locator("#mainnav").is_visible()
    page.click(".nav-toggle")
    assert page.locator("#mainnav").is_visible()
    shot(page, "phone-home")
    context.close()
