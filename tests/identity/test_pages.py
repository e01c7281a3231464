"""Login, lockout, CSRF, session timeout, language and the administration pages, through the HTML forms."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from huoban.models import AuditEntry, Organization, User, WebSession, utcnow
from tests.factories import PASSWORD
from tests.pages import csrf_from, sign_in

GENERIC = "账号或密码错误，或账号已被锁定"


def _login(client, email, password):  # type: ignore[no-untyped-def]
    token = csrf_from(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       follow_redirects=False)


def test_pages_redirect_to_login_without_a_session(client):
    r = client.get("/orgs", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/orgs"


def test_login_then_home_shows_own_organization_in_chinese(client, world):
    sign_in(client, "customer_a_admin@world.test")
    home = client.get("/")
    assert home.status_code == 200
    assert "甲客户" in home.text
    assert "欢迎" in home.text


def test_wrong_password_unknown_user_and_locked_account_look_the_same(client, world, db):
    unknown = _login(client, "nobody@world.test", "whatever")
    wrong = _login(client, "customer_a_member@world.test", "wrong-password")
    assert unknown.status_code == wrong.status_code == 401
    assert GENERIC in unknown.text and GENERIC in wrong.text
    assert client.cookies.get("huoban_session") is None


def test_five_failures_lock_the_account_for_fifteen_minutes(client, world, db):
    email = "partner_a_engineer@world.test"
    for _ in range(5):
        assert _login(client, email, "wrong-password").status_code == 401
    user = db.scalar(select(User).where(User.email == email))
    db.refresh(user)
    assert user.locked_until is not None
    assert timedelta(minutes=14) < user.locked_until - utcnow() <= timedelta(minutes=15)
    locked = _login(client, email, PASSWORD)
    assert locked.status_code == 401 and GENERIC in locked.text
    actions = db.scalars(select(AuditEntry.action).where(AuditEntry.object_id == str(user.id))).all()
    assert "user.locked" in actions and actions.count("login.failed") == 6
    user.locked_until = utcnow() - timedelta(seconds=1)
    db.commit()
    assert _login(client, email, PASSWORD).status_code == 303


def test_security_admin_unlocks_an_account(client, world, db):
    target = world.users["customer_a_member"]
    target.locked_until = utcnow() + timedelta(minutes=10)
    db.commit()
    r = world.call(client, "POST", f"/api/v1/users/{target.id}/unlock", "operator_security_admin")
    assert r.status_code == 200 and r.json()["locked_until"] is None
    world.check(client, "POST", f"/api/v1/users/{target.id}/unlock", {
        "customer_b_admin": 404, "partner_a_admin": 404, "operator_audit_admin": 403,
    })


def test_form_posts_without_csrf_token_are_refused_and_change_nothing(client, world, db):
    sign_in(client, "operator_admin@world.test")
    before = db.scalar(select(func.count()).select_from(Organization))
    r = client.post("/orgs/new", data={"kind": "customer", "name": "无令牌客户"})
    assert r.status_code == 403
    assert db.scalar(select(func.count()).select_from(Organization)) == before


def test_idle_session_expires(client, world, db):
    sign_in(client, "customer_b_admin@world.test")
    for web in db.scalars(select(WebSession)):
        web.last_seen_at = utcnow() - timedelta(minutes=31)
    db.commit()
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_logout_ends_the_session(client, world, db):
    token = sign_in(client, "customer_b_admin@world.test")
    r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert db.scalar(select(func.count()).select_from(WebSession)) == 0
    assert client.get("/", follow_redirects=False).status_code == 303


def test_english_switch(client, world):
    sign_in(client, "customer_a_admin@world.test")
    client.get("/lang/en?next=/", follow_redirects=False)
    home = client.get("/")
    assert "Welcome" in home.text and "欢迎" not in home.text
    assert home.headers["content-language"] == "en"


def test_operator_creates_org_and_user_through_forms(client, world, db):
    token = sign_in(client, "operator_system_admin@world.test")
    bad = client.post("/orgs/new", data={"csrf_token": token, "kind": "customer", "name": "青岛港集团",
                                         "region_code": "123456"})
    assert bad.status_code == 422
    assert "123456" in bad.text and 'value="青岛港集团"' in bad.text
    ok = client.post("/orgs/new", data={"csrf_token": token, "kind": "customer", "name": "青岛港集团",
                                        "industry": "transport", "region_code": "370200"}, follow_redirects=False)
    assert ok.status_code == 303
    org = db.scalar(select(Organization).where(Organization.name == "青岛港集团"))
    page = client.get(ok.headers["location"])
    assert "山东省青岛市" in page.text
    made = client.post(f"/orgs/{org.id}/users/new", data={
        "csrf_token": token, "email": "qd.admin@qdport.com.cn", "display_name": "孔亮", "role": "customer_admin",
    })
    assert made.status_code == 200
    assert 'id="initial-password"' in made.text
    assert db.scalar(select(User).where(User.email == "qd.admin@qdport.com.cn")).role == "customer_admin"


def test_customer_admin_cannot_open_another_customers_pages(client, world):
    sign_in(client, "customer_a_admin@world.test")
    other = world.orgs["customer_b"].id
    assert client.get(f"/orgs/{other}").status_code == 404
    assert client.get(f"/orgs/{other}/users/new").status_code == 404
    users = client.get("/users").text
    assert "customer_b_admin@world.test" not in users and "customer_a_member@world.test" in users


def test_password_change_enforces_policy(client, world, db):
    token = sign_in(client, "partner_b_admin@world.test")
    weak = client.post("/account/password", data={"csrf_token": token, "current_password": PASSWORD,
                                                  "new_password": "abc"})
    assert weak.status_code == 422
    good = client.post("/account/password", data={"csrf_token": token, "current_password": PASSWORD,
                                                  "new_password": "Another-Strong-77"})
    assert good.status_code == 200
    client.cookies.clear()
    assert _login(client, "partner_b_admin@world.test", "Another-Strong-77").status_code == 303
