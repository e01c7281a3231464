"""The customer's engagement portal through the HTML forms: what it shows and never shows, sign-off, change
orders and grading, and that another customer or a partner reads and changes nothing on either side."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from huoban.engagements import requirements, service
from huoban.engagements.requirements_schemas import ChangeOrderCreate, DeliverableCreate, ItemIn
from huoban.engagements.schemas import StageIn
from huoban.models import ChangeOrder, Deliverable, RequirementVersion
from tests.engagements.pages_helpers import (
    ITEMS,
    SECRET_FOLLOW_UP,
    SECRET_MINUTES,
    act,
    as_user,
    make_engagement,
    snapshot,
    state,
    xlsx,
)


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_portal_shows_the_customer_its_engagement_and_never_internals(client, world, db, locale):
    engagement = make_engagement(db, world, versions=2)
    service.update_engagement(db, act(db, world, "operator_admin"), engagement.id,
                              service.EngagementUpdate(owner_id=world.users["operator_agent"].id))  # internal event
    db.commit()
    as_user(client, world, "customer_a_member")
    client.cookies.set("huoban_locale", locale)
    listing = client.get("/portal/engagements")
    assert listing.status_code == 200 and "智慧园区访客管理" in listing.text
    assert 'class="signoffs" data-count="1"' in listing.text
    assert 'href="/portal/engagements"' in client.get("/").text
    page = client.get(f"/portal/engagements/{engagement.id}")
    assert page.status_code == 200
    html = page.text
    assert "系统支持两万人并发访问" in html and 'id="diff-result" data-from="1" data-to="2"' in html
    assert "<ins>两万人</ins>" in html.replace("<del>万人</del>", "")
    assert 'id="signoff-form"' not in html  # a member reads, the customer_admin signs
    shown = re.sub(r'datetime="[^"]*"', "", html)  # machine timestamps carry microseconds such as .4517
    for secret in (SECRET_MINUTES, SECRET_FOLLOW_UP, "需求工作坊", "effort", "4.5", "Internal", "内部"):
        assert secret not in shown, secret
    assert client.get(f"/portal/engagements/{engagement.id}?from=2&to=1").status_code == 200
    assert client.get(f"/portal/engagements/{engagement.id}/requirements/1").status_code == 200
    export = client.get(f"/portal/engagements/{engagement.id}/requirements/1/export.xlsx")
    assert export.status_code == 200 and export.content.startswith(b"PK")
    own = client.get(f"/engagements/{engagement.id}", follow_redirects=False)
    assert own.status_code == 303 and own.headers["location"] == f"/portal/engagements/{engagement.id}"
    assert client.get("/engagements", follow_redirects=False).headers["location"] == "/portal/engagements"
    assert client.get("/engagements/reports/effort").status_code == 404


def test_other_customers_and_partners_get_404(client, world, db):
    engagement = make_engagement(db, world, versions=1)
    eid = engagement.id
    paths = [f"/engagements/{eid}", f"/engagements/{eid}/requirements/edit", f"/engagements/{eid}/requirements/1",
             f"/engagements/{eid}/requirements/diff", f"/engagements/{eid}/requirements/1/export.xlsx",
             f"/portal/engagements/{eid}", f"/portal/engagements/{eid}/requirements/1",
             f"/portal/engagements/{eid}/requirements/1/export.xlsx"]
    for who in ("customer_b_admin", "partner_a_admin"):
        as_user(client, world, who)
        for path in paths:
            assert client.get(path).status_code == 404, (who, path)
    csrf = as_user(client, world, "customer_b_admin")
    before = snapshot(db)
    assert client.post(f"/portal/engagements/{eid}/requirements/1/decision",
                       data={"csrf_token": csrf, "decision": "sign"}).status_code == 404
    assert client.post(f"/engagements/{eid}/consultations", data={"csrf_token": csrf, "title": "x"}).status_code == 404
    assert snapshot(db) == before
    as_user(client, world, "partner_a_admin")
    assert client.get("/engagements").status_code == 404 and client.get("/portal/engagements").status_code == 404
    as_user(client, world, "customer_b_admin")
    assert "智慧园区访客管理" not in client.get("/portal/engagements").text


def test_other_customers_and_partners_change_nothing_through_any_form(client, world, db):
    """Every form post of both sides, by another customer's admin and by a partner's admin: 404 (as for reading),
    and not a row, status or audit entry changes."""
    engagement = make_engagement(db, world, versions=1, stage="delivering")
    eid, admin, operator = engagement.id, act(db, world, "operator_admin"), world.orgs["operator"].id
    keyed = [i.model_copy(update={"key": f"R-{k + 1}"}) for k, i in enumerate(ITEMS)]
    order = requirements.propose_change(db, admin, eid, ChangeOrderCreate(
        items=[*keyed, ItemIn(title="访客黑名单")], reason="增加访客黑名单", effort_hours=8, price_impact_fen=100_000))
    pending, submitted = (requirements.create_deliverable(db, admin, eid, DeliverableCreate(
        title=title, item_keys=["R-1"], delivered_by_org_id=operator)) for title in ("预约小程序", "登记终端"))
    requirements.submit_deliverable(db, admin, eid, submitted.id)
    db.commit()
    new = {"customer_org_id": str(world.orgs["customer_a"].id), "title": "数据中台咨询", "goal": "打通数据。",
           "owner_id": str(world.users["operator_admin"].id)}
    posts = {
        f"/engagements/{eid}/stage": {"stage": "accepted"},
        f"/engagements/{eid}/edit": {**new, "title": "改名-XT31"},
        f"/engagements/{eid}/notes": {"body": "越权备注"},
        f"/engagements/{eid}/consultations": {"kind": "call", "held_on": "2026-04-08", "title": "电话"},
        f"/engagements/{eid}/requirements": {"mode": "version", "items-0-title": "越权需求"},
        f"/engagements/{eid}/deliverables": {"title": "越权交付", "item_keys": "R-1",
                                             "delivered_by_org_id": str(operator)},
        f"/engagements/{eid}/deliverables/{pending.id}/submit": {},
        f"/portal/engagements/{eid}/change-orders/{order.id}/decision": {"decision": "approve", "comment": "同意"},
        f"/portal/engagements/{eid}/deliverables/{submitted.id}/grade": {"decision": "accept", "score": "5"},
        f"/portal/engagements/{eid}/requirements/2/decision": {"decision": "return", "comment": "退回"},
        "/engagements/new": new,
    }
    for who in ("customer_b_admin", "partner_a_admin"):
        csrf = as_user(client, world, who)
        before = state(db)  # after signing in, which is audited
        for path, data in posts.items():
            assert client.post(path, data={"csrf_token": csrf, **data}).status_code == 404, (who, path)
            assert state(db) == before, (who, path)
        imported = client.post(f"/engagements/{eid}/requirements/import", data={"csrf_token": csrf},
                               files={"file": ("需求.xlsx", xlsx("越权导入"), "application/octet-stream")})
        assert imported.status_code == 404, who
        for path in (f"/engagements/{eid}/edit", "/engagements/new", "/engagements/reports/effort"):
            assert client.get(path).status_code == 404, (who, path)
        assert state(db) == before, who
    as_user(client, world, "operator_admin")  # the forms were real: the provider sees the work still open
    page = client.get(f"/engagements/{eid}").text
    assert f'data-order="{order.id}" data-status="pending"' in page and "越权备注" not in page


def test_customer_admin_signs_off_or_returns_in_the_portal(client, world, db):
    engagement = make_engagement(db, world, versions=2)
    csrf = as_user(client, world, "customer_a_admin")
    page = client.get(f"/portal/engagements/{engagement.id}")
    assert 'id="signoff-form"' in page.text
    url = f"/portal/engagements/{engagement.id}/requirements/2/decision"
    before = snapshot(db)
    bad = client.post(url, data={"csrf_token": csrf, "decision": "return", "comment": " "})
    assert bad.status_code == 422 and 'class="alert alert-error"' in bad.text
    stale = client.post(f"/portal/engagements/{engagement.id}/requirements/1/decision",
                        data={"csrf_token": csrf, "decision": "sign"})
    assert stale.status_code == 409
    assert snapshot(db) == before
    assert client.post(url, data={"decision": "sign"}).status_code == 403  # no CSRF token
    ok = client.post(url, data={"csrf_token": csrf, "decision": "sign", "comment": "同意按此执行"},
                     follow_redirects=False)
    assert ok.status_code == 303
    version = db.scalar(select(RequirementVersion).where(RequirementVersion.engagement_id == engagement.id,
                                                         RequirementVersion.number == 2))
    db.refresh(version)
    assert (version.status, version.decided_by_id, version.decision_comment) == (
        "signed", world.users["customer_a_admin"].id, "同意按此执行")
    after = client.get(f"/portal/engagements/{engagement.id}").text
    assert 'data-version="2" data-status="signed"' in after and 'id="signoff-form"' not in after


def test_change_order_approval_and_grading_through_the_pages(client, world, db):
    engagement = make_engagement(db, world, versions=1, stage="delivering")
    csrf = as_user(client, world, "operator_admin")
    edit = client.get(f"/engagements/{engagement.id}/requirements/edit")
    assert 'name="mode" value="change"' in edit.text
    form = {"csrf_token": csrf, "mode": "change", "reason": "增加访客黑名单", "effort_hours": "80",
            "price_impact": "120000",
            **{f"items-{k}-{f}": v for k, i in enumerate(ITEMS) for f, v in
               (("key", f"R-{k + 1}"), ("title", i.title), ("priority", i.priority))},
            "items-3-title": "访客黑名单", "items-3-priority": "must"}
    before = snapshot(db)
    bad = client.post(f"/engagements/{engagement.id}/requirements", data={**form, "effort_hours": "很多"})
    assert bad.status_code == 422 and "增加访客黑名单" in bad.text
    assert snapshot(db) == before
    assert client.post(f"/engagements/{engagement.id}/requirements", data=form,
                       follow_redirects=False).status_code == 303
    order = db.scalar(select(ChangeOrder).where(ChangeOrder.engagement_id == engagement.id))
    assert (order.status, order.effort_hours, order.price_impact_fen) == ("pending", 80, 12_000_000)
    assert 'data-status="pending"' in client.get(f"/engagements/{engagement.id}").text

    deliverable_form = {"csrf_token": csrf, "title": "访客预约小程序", "item_keys": ["R-1", "R-2"],
                        "delivered_by_org_id": str(world.orgs["operator"].id)}
    bad = client.post(f"/engagements/{engagement.id}/deliverables", data={**deliverable_form, "item_keys": []})
    assert bad.status_code == 422
    assert client.post(f"/engagements/{engagement.id}/deliverables", data=deliverable_form,
                       follow_redirects=False).status_code == 303
    deliverable = db.scalar(select(Deliverable).where(Deliverable.engagement_id == engagement.id))
    assert client.post(f"/engagements/{engagement.id}/deliverables/{deliverable.id}/submit",
                       data={"csrf_token": csrf}, follow_redirects=False).status_code == 303

    csrf = as_user(client, world, "customer_a_admin")
    page = client.get(f"/portal/engagements/{engagement.id}").text
    assert "¥120,000" in page and 'class="primary approve-change"' in page and 'class="form grade-form"' in page
    assert client.post(f"/portal/engagements/{engagement.id}/change-orders/{order.id}/decision",
                       data={"csrf_token": csrf, "decision": "approve", "comment": "同意"},
                       follow_redirects=False).status_code == 303
    db.refresh(order)
    assert order.status == "approved"
    grade_url = f"/portal/engagements/{engagement.id}/deliverables/{deliverable.id}/grade"
    before = snapshot(db)
    for data in ({"decision": "accept", "comment": "很好"}, {"decision": "reject", "score": "2"}):
        bad = client.post(grade_url, data={"csrf_token": csrf, **data})
        assert bad.status_code == 422 and 'class="field-error"' in bad.text
    assert snapshot(db) == before
    assert client.post(grade_url, data={"csrf_token": csrf, "decision": "accept", "score": "4",
                                        "comment": "功能完整"}, follow_redirects=False).status_code == 303
    db.refresh(deliverable)
    assert (deliverable.status, deliverable.score, deliverable.comment) == ("accepted", 4, "功能完整")
    final = client.get(f"/portal/engagements/{engagement.id}").text
    assert "4/5" in final and 'data-stage="accepted"' in final  # every deliverable accepted → engagement accepted

    as_user(client, world, "operator_admin")  # accepted: the scope is settled, the page offers no more changes
    settled = client.get(f"/engagements/{engagement.id}").text
    assert 'data-stage="accepted"' in settled
    for control in ('id="edit-requirements"', 'id="import-form"', 'id="deliverable-form"',
                    'class="submit-deliverable"'):
        assert control not in settled, control


def test_the_portal_hides_the_lost_reason_and_checks_comment_length(client, world, db):
    engagement = make_engagement(db, world, versions=2)
    service.change_stage(db, act(db, world, "operator_admin"), engagement.id,
                         StageIn(stage="lost", reason="竞品低价，客户内部有关系-LR88"))
    db.commit()
    as_user(client, world, "customer_a_member")
    page = client.get(f"/portal/engagements/{engagement.id}").text
    assert 'data-kind="stage"' in page and "LR88" not in page
    as_user(client, world, "operator_admin")
    assert "LR88" in client.get(f"/engagements/{engagement.id}").text

    other = make_engagement(db, world, versions=2)
    csrf = as_user(client, world, "customer_a_admin")
    before = snapshot(db)
    url = f"/portal/engagements/{other.id}/requirements/2/decision"
    for decision in ("sign", "return"):
        bad = client.post(url, data={"csrf_token": csrf, "decision": decision, "comment": "长" * 5001})
        assert bad.status_code == 422, bad.text
        assert 'class="alert alert-error"' in bad.text and 'id="signoff-form"' in bad.text
    assert snapshot(db) == before
    assert client.post(url, data={"csrf_token": csrf, "decision": "sign", "comment": "长" * 5000},
                       follow_redirects=False).status_code == 303


def test_a_version_submitted_before_the_win_is_not_offered_for_sign_off_after_it(client, world, db):
    engagement = make_engagement(db, world, versions=1, stage="won")
    admin = act(db, world, "operator_admin")
    engagement.stage = "bidding"  # a late proposal just before the win
    db.commit()
    requirements.propose_version(db, admin, engagement.id, ITEMS[:2], "投标前最后一版")
    engagement.stage = "won"
    db.commit()
    csrf = as_user(client, world, "customer_a_admin")
    client.cookies.set("huoban_locale", "en")
    page = client.get(f"/portal/engagements/{engagement.id}").text
    assert 'id="signoff-form"' in page and 'id="change-only"' in page and 'id="sign-off"' not in page
    listing = client.get("/portal/engagements").text  # it can only be returned: nothing waits for a sign-off
    assert f'data-engagement="{engagement.id}"' in listing and 'class="signoffs" data-count="0"' in listing
    before = snapshot(db)
    refused = client.post(f"/portal/engagements/{engagement.id}/requirements/2/decision",
                          data={"csrf_token": csrf, "decision": "sign"})
    assert refused.status_code == 409 and "propose a change order instead" in refused.text
    assert snapshot(db) == before
    assert requirements.current_version(db, engagement).number == 1
