"""The provider's engagement pages through the HTML forms: the list, a new engagement, editing one, notes,
consultations, the requirement editor, diff and Excel, the stage, and bad input that is shown again and changes
nothing. The customer's portal and cross-customer scoping are in test_portal_pages."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from huoban.engagements import requirements, service
from huoban.models import Consultation, ConsultationParticipant, Engagement, EngagementEvent, RequirementVersion
from tests.engagements.pages_helpers import (
    SECRET_FOLLOW_UP,
    SECRET_MINUTES,
    as_user,
    count,
    make_engagement,
    snapshot,
    state,
)

# --- the provider's pages ------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_provider_pages_render_with_real_content(client, world, db, locale):
    engagement = make_engagement(db, world, versions=2)
    as_user(client, world, "operator_admin")
    client.cookies.set("huoban_locale", locale)
    listing = client.get("/engagements")
    assert listing.status_code == 200
    assert f'href="/engagements/{engagement.id}"' in listing.text and "智慧园区访客管理" in listing.text
    assert 'data-stage="inquiry"' in listing.text and 'data-count="1"' in listing.text
    assert "甲客户" in client.get("/engagements?stage=inquiry&q=访客").text
    assert "智慧园区访客管理" not in client.get("/engagements?stage=won").text

    page = client.get(f"/engagements/{engagement.id}")
    assert page.status_code == 200
    html = page.text
    assert "园区访客预约、登记全部上云" in html and "¥800,000 – ¥1,500,000" in html
    assert "浙江省宁波市" in html and "operator_admin" in html  # region, owner and presales team
    assert SECRET_MINUTES in html and SECRET_FOLLOW_UP in html  # the provider reads its own minutes
    assert 'data-version="2" data-status="submitted"' in html and 'data-version="1" data-status="superseded"' in html
    assert f'/engagements/{engagement.id}/requirements/2/export.xlsx' in html
    assert 'id="stage-form"' in html and 'value="consulting"' in html
    if locale == "en":
        assert "Waiting for the customer&#39;s sign-off" in html and 'data-stage="inquiry">Inquiry<' in html
    else:
        assert 'lang="zh-CN"' in html and "等待客户签署" in html and "Waiting for the customer" not in html
        assert 'data-stage="inquiry">初步询问<' in html

    edit = client.get(f"/engagements/{engagement.id}/requirements/edit")
    assert edit.status_code == 200 and 'value="R-3"' in edit.text and "系统支持两万人并发访问" in edit.text

    diff = client.get(f"/engagements/{engagement.id}/requirements/diff?from=1&to=2")
    assert diff.status_code == 200
    assert 'data-key="R-2"' in diff.text and "<ins>两万人</ins>" in diff.text.replace("<del>万人</del>", "")
    backwards = client.get(f"/engagements/{engagement.id}/requirements/diff?from=2&to=1")
    assert backwards.status_code == 200
    assert 'id="diff-result" data-from="2" data-to="1"' in backwards.text
    changed = backwards.text.split('class="diff-item diff-changed" data-key="R-2"')[1].split("</li>")[0]
    assert "<del>两万人</del>" in changed.replace("<ins>万人</ins>", "")

    version = client.get(f"/engagements/{engagement.id}/requirements/1")
    assert version.status_code == 200 and "Export monthly reports as PDF." in version.text

    effort = client.get("/engagements/reports/effort?group_by=person")
    assert effort.status_code == 200
    assert "operator_admin" in effort.text and 'id="total-hours">4.5<' in effort.text
    assert "智慧园区访客管理" in client.get("/engagements/reports/effort?group_by=engagement").text
    assert "2026-Q1" in client.get("/engagements/reports/effort?group_by=quarter").text
    assert client.get("/engagements/reports/effort?since=2026-13-01").status_code == 422
    assert client.get("/engagements/new").status_code == 200


def test_operator_opens_an_engagement_and_bad_budget_is_shown_again(client, world, db):
    csrf = as_user(client, world, "operator_admin")
    form = {"csrf_token": csrf, "customer_org_id": str(world.orgs["customer_a"].id), "title": "数据中台咨询",
            "goal": "我们想把各处室数据打通。", "budget_min": "500000", "budget_max": "300000.5",
            "industry": "government", "region_code": "330203", "owner_id": str(world.users["operator_admin"].id)}
    before = snapshot(db)
    bad = client.post("/engagements/new", data=form)
    assert bad.status_code == 422 and 'class="alert alert-error"' in bad.text
    assert "我们想把各处室数据打通。" in bad.text and 'class="field-error"' in bad.text
    assert snapshot(db) == before
    ok = client.post("/engagements/new", data={**form, "budget_max": "1,200,000.50"}, follow_redirects=False)
    assert ok.status_code == 303, ok.text
    engagement = db.scalar(select(Engagement).where(Engagement.title == "数据中台咨询"))
    assert (engagement.budget_min_fen, engagement.budget_max_fen) == (50_000_000, 120_000_050)
    assert ok.headers["location"] == f"/engagements/{engagement.id}"


def test_editing_an_engagement_and_bad_input_is_shown_again(client, world, db):
    engagement = make_engagement(db, world)
    eid, admin_id, agent_id = engagement.id, world.users["operator_admin"].id, world.users["operator_agent"].id
    csrf = as_user(client, world, "operator_admin")
    client.cookies.set("huoban_locale", "en")
    assert f'href="/engagements/{eid}/edit"' in client.get(f"/engagements/{eid}").text
    page = client.get(f"/engagements/{eid}/edit")
    assert page.status_code == 200 and 'name="customer_org_id"' not in page.text
    assert "<h1>Edit the engagement</h1>" in page.text and f'action="/engagements/{eid}/edit"' in page.text
    for shown in ('value="智慧园区访客管理"', "园区访客预约、登记全部上云", 'name="budget_min" value="800000"',
                  'name="budget_max" value="1500000"', 'value="330203"', 'value="government" selected',
                  f'name="member_ids" value="{admin_id}" checked'):
        assert shown in page.text, shown
    form = {"csrf_token": csrf, "title": "智慧园区访客管理（二期）", "goal": "访客预约上云，并对接公安人口库。",
            "budget_min": "900000", "budget_max": "1,600,000.50", "industry": "", "region_code": "",
            "owner_id": str(agent_id), "member_ids": [str(admin_id), str(agent_id)]}
    before = state(db)
    for change in ({"title": " "}, {"budget_min": "2000000"}, {"budget_max": "12.345"}, {"region_code": "999999"},
                   {"owner_id": ""}, {"owner_id": str(world.users["customer_a_admin"].id)}, {"industry": "伪造行业"},
                   {"member_ids": [str(world.users["partner_a_admin"].id)]}):
        bad = client.post(f"/engagements/{eid}/edit", data={**form, **change})
        assert bad.status_code == 422, (change, bad.status_code)
        assert 'class="alert alert-error"' in bad.text and "并对接公安人口库" in bad.text  # the typed values stay
        assert bad.text.count('class="field-error"') == 1, change
        assert state(db) == before
    ok = client.post(f"/engagements/{eid}/edit", data=form, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == f"/engagements/{eid}"
    db.refresh(engagement)
    assert (engagement.title, engagement.budget_min_fen, engagement.budget_max_fen, engagement.industry,
            engagement.region_code, engagement.owner_id) == ("智慧园区访客管理（二期）", 90_000_000, 160_000_050,
                                                              None, None, agent_id)
    assert sorted(m.user_id for m in service.members(db, engagement)) == sorted([admin_id, agent_id])
    detail = client.get(f"/engagements/{eid}").text
    for text in ("Changed the title.", "Changed the goal.", "Changed the budget.", "Changed the account manager."):
        assert text in detail, text
    again = client.get(f"/engagements/{eid}/edit").text  # the owner is offered though not in a sales role
    assert f'<option value="{agent_id}" selected>' in again and 'name="budget_max" value="1600000.50"' in again

    csrf = as_user(client, world, "operator_agent")  # reads, but does not sell
    assert 'id="edit-engagement"' not in client.get(f"/engagements/{eid}").text
    before = state(db)
    refused = client.post(f"/engagements/{eid}/edit", data={**form, "csrf_token": csrf, "title": "改名"})
    assert refused.status_code == 403 and 'class="alert alert-error"' in refused.text
    assert state(db) == before


def test_internal_notes_show_on_the_provider_timeline_only(client, world, db):
    engagement = make_engagement(db, world, versions=1)
    eid, note = engagement.id, "客户信息中心主任倾向国产数据库-IN62"
    csrf = as_user(client, world, "operator_admin")
    client.cookies.set("huoban_locale", "en")
    assert 'id="note-form"' in client.get(f"/engagements/{eid}").text
    before = state(db)
    for body in ("   ", "长" * 4001):
        bad = client.post(f"/engagements/{eid}/notes", data={"csrf_token": csrf, "body": body})
        assert bad.status_code == 422 and bad.text.count('class="field-error"') == 1
        assert 'id="note-form"' in bad.text and body.strip() in bad.text
        assert state(db) == before
    ok = client.post(f"/engagements/{eid}/notes", data={"csrf_token": csrf, "body": note}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == f"/engagements/{eid}#timeline"
    event = db.scalar(select(EngagementEvent).where(EngagementEvent.engagement_id == eid,
                                                    EngagementEvent.kind == "note"))
    assert (event.body, event.is_internal, event.actor_id) == (note, True, world.users["operator_admin"].id)
    timeline = client.get(f"/engagements/{eid}").text.split('id="timeline"')[1]
    entry = timeline.split('class="event ev-note internal" data-kind="note"')[1].split("</li>")[0]
    assert note in entry and "Internal note" in entry and 'class="badge internal-badge">Internal<' in entry

    csrf = as_user(client, world, "operator_agent")
    assert 'id="note-form"' not in client.get(f"/engagements/{eid}").text
    before = state(db)
    assert client.post(f"/engagements/{eid}/notes", data={"csrf_token": csrf, "body": "x"}).status_code == 403
    for who in ("customer_a_admin", "customer_a_member"):
        csrf = as_user(client, world, who)
        portal = client.get(f"/portal/engagements/{eid}")
        assert portal.status_code == 200 and "IN62" not in portal.text and 'data-kind="note"' not in portal.text
        assert client.post(f"/engagements/{eid}/notes", data={"csrf_token": csrf, "body": "x"}).status_code == 404
    assert count(db, EngagementEvent, EngagementEvent.kind == "note") == 1


def test_recording_a_consultation_and_bad_input(client, world, db):
    engagement = make_engagement(db, world)
    csrf = as_user(client, world, "operator_admin")
    form = {"csrf_token": csrf, "kind": "site_visit", "held_on": "2026-04-08", "title": "现场勘查",
            "minutes": "机房 2 号机柜空间不足。", "follow_ups": "补充机柜方案。",
            "people-0-user_id": str(world.users["operator_admin"].id), "people-0-side": "provider",
            "people-0-hours": "2.5",
            "people-1-name": "园区物业张经理", "people-1-side": "customer", "people-1-hours": "",
            "people-2-name": "", "people-2-side": "provider", "people-2-hours": ""}
    before = snapshot(db)
    for change in ({"title": " "}, {"held_on": "2026-02-30"}, {"people-1-hours": "3"}, {"people-0-hours": "abc"},
                   {"kind": "dinner"}):
        bad = client.post(f"/engagements/{engagement.id}/consultations", data={**form, **change})
        assert bad.status_code == 422, (change, bad.status_code)
        assert 'class="alert alert-error"' in bad.text and "机房 2 号机柜空间不足。" in bad.text
        assert snapshot(db) == before
    ok = client.post(f"/engagements/{engagement.id}/consultations", data=form, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"].endswith("#consultations")
    consultation = db.scalar(select(Consultation).where(Consultation.title == "现场勘查"))
    people = db.scalars(select(ConsultationParticipant).where(
        ConsultationParticipant.consultation_id == consultation.id)).all()
    assert sorted((p.name, p.side, p.effort_minutes) for p in people) == [
        ("operator_admin", "provider", 150), ("园区物业张经理", "customer", 0)]
    assert "机房 2 号机柜空间不足。" in client.get(f"/engagements/{engagement.id}").text


def test_a_new_requirements_version_from_the_editor(client, world, db):
    engagement = make_engagement(db, world)
    csrf = as_user(client, world, "operator_admin")
    form = {"csrf_token": csrf, "mode": "version", "note": "按工作坊结论调整",
            "items-0-key": "R-1", "items-0-title": "单点登录", "items-0-description": "员工用企业微信或钉钉登录",
            "items-0-acceptance_criteria": "十名员工试用通过", "items-0-priority": "must",
            "items-1-key": "R-2", "items-1-title": "并发访问", "items-1-remove": "1", "items-1-priority": "should",
            "items-2-key": "R-3", "items-2-title": "报表导出", "items-2-priority": "could",
            "items-3-key": "", "items-3-title": "访客黑名单", "items-3-priority": "should",
            "items-3-owner_id": str(world.users["customer_a_admin"].id),
            "items-4-key": "", "items-4-title": "", "items-4-priority": "should"}
    before = snapshot(db)
    bad = client.post(f"/engagements/{engagement.id}/requirements", data={**form, "items-2-title": ""})
    assert bad.status_code == 422 and 'class="field-error"' in bad.text and "员工用企业微信或钉钉登录" in bad.text
    assert snapshot(db) == before
    ok = client.post(f"/engagements/{engagement.id}/requirements", data=form, follow_redirects=False)
    assert ok.status_code == 303, ok.text
    v2 = db.scalar(select(RequirementVersion).where(RequirementVersion.engagement_id == engagement.id,
                                                    RequirementVersion.number == 2))
    assert (v2.status, v2.note) == ("submitted", "按工作坊结论调整")
    items = requirements.items(db, v2)
    assert [(i.key, i.title) for i in items] == [("R-1", "单点登录"), ("R-3", "报表导出"), ("R-4", "访客黑名单")]
    diff = client.get(f"/engagements/{engagement.id}/requirements/diff?from=1&to=2").text
    assert "<ins>或钉钉</ins>" in diff and 'class="diff-item diff-removed" data-key="R-2"' in diff


def test_moved_items_make_a_version_in_the_new_order(client, world, db):
    """The editor's move buttons renumber the rows (engagements.js); the form posted in the new order saves the
    items in that order, and the diff shows the item as moved."""
    engagement = make_engagement(db, world, versions=2)
    csrf = as_user(client, world, "operator_admin")
    edit = client.get(f"/engagements/{engagement.id}/requirements/edit").text
    assert edit.count('data-move="up"') == edit.count('data-move="down"') == 5  # three items, two blank rows
    assert '<script src="/static/js/engagements.js" defer></script>' in edit and "<script>" not in edit
    assert "insertBefore" in client.get("/static/js/engagements.js").text
    shown = requirements.item_dicts(db, requirements.get_version(db, engagement, 2))  # as the editor fills it
    moved = [shown[2], shown[0], shown[1]]  # R-3 moved up twice
    form = {"csrf_token": csrf, "mode": "version", "note": "报表优先",
            **{f"items-{n}-{field}": str(value or "") for n, item in enumerate(moved) for field, value in item.items()}}
    before = snapshot(db)
    bad = client.post(f"/engagements/{engagement.id}/requirements", data={**form, "items-1-title": ""})
    assert bad.status_code == 422 and bad.text.index('value="R-3"') < bad.text.index('value="R-1"')
    assert snapshot(db) == before
    ok = client.post(f"/engagements/{engagement.id}/requirements", data=form, follow_redirects=False)
    assert ok.status_code == 303, ok.text
    v3 = requirements.get_version(db, engagement, 3)
    assert [(i.key, i.position) for i in requirements.items(db, v3)] == [("R-3", 1), ("R-1", 2), ("R-2", 3)]
    diff = client.get(f"/engagements/{engagement.id}/requirements/diff?from=2&to=3").text
    assert diff.count('class="diff-item diff-moved"') == 1 and 'diff-moved" data-key="R-3"' in diff
    assert "diff-changed" not in diff and "diff-added" not in diff and "diff-removed" not in diff


def test_excel_import_lists_bad_rows_and_export_round_trips(client, world, db):
    engagement = make_engagement(db, world)
    csrf = as_user(client, world, "operator_admin")
    book = Workbook()
    sheet = book.active
    sheet.append(["标题/title", "优先级/priority"])
    sheet.append(["统一门户", "必须"])
    sheet.append(["移动端", "特别急"])
    buf = io.BytesIO()
    book.save(buf)
    before = snapshot(db)
    bad = client.post(f"/engagements/{engagement.id}/requirements/import", data={"csrf_token": csrf},
                      files={"file": ("需求.xlsx", buf.getvalue(), "application/octet-stream")})
    assert bad.status_code == 422 and 'id="import-errors"' in bad.text and "<td>3</td><td>priority</td>" in bad.text
    assert snapshot(db) == before
    sheet.cell(row=3, column=2, value="could")
    buf = io.BytesIO()
    book.save(buf)
    ok = client.post(f"/engagements/{engagement.id}/requirements/import", data={"csrf_token": csrf},
                     files={"file": ("需求.xlsx", buf.getvalue(), "application/octet-stream")}, follow_redirects=False)
    assert ok.status_code == 303
    export = client.get(f"/engagements/{engagement.id}/requirements/2/export.xlsx")
    assert export.status_code == 200 and export.headers["content-disposition"].startswith("attachment;")
    rows = list(load_workbook(io.BytesIO(export.content)).active.iter_rows(values_only=True))
    assert [r[1] for r in rows[1:]] == ["统一门户", "移动端"]


def test_moving_the_stage_needs_a_reason_when_lost(client, world, db):
    engagement = make_engagement(db, world)
    csrf = as_user(client, world, "operator_admin")
    url = f"/engagements/{engagement.id}/stage"
    before = snapshot(db)
    bad = client.post(url, data={"csrf_token": csrf, "stage": "lost", "reason": ""})
    assert bad.status_code == 422 and 'class="field-error"' in bad.text
    assert client.post(url, data={"csrf_token": csrf, "stage": "won"}).status_code == 409
    assert snapshot(db) == before
    assert client.post(url, data={"csrf_token": csrf, "stage": "lost", "reason": "预算取消"},
                       follow_redirects=False).status_code == 303
    db.refresh(engagement)
    assert (engagement.stage, engagement.lost_reason) == ("lost", "预算取消")
    assert "预算取消" in client.get(f"/engagements/{engagement.id}").text
    as_user(client, world, "operator_agent")  # reads, but does not sell
    page = client.get(f"/engagements/{engagement.id}")
    assert page.status_code == 200 and 'id="stage-form"' not in page.text


# --- odd input is a form error, never a server error ----------------------------------------------------


def test_odd_digits_and_huge_amounts_are_form_errors(client, world, db):
    engagement = make_engagement(db, world, versions=1, stage="won")
    csrf = as_user(client, world, "operator_admin")
    listing = client.get("/engagements?customer=²&owner=¹")
    assert listing.status_code == 200 and "智慧园区访客管理" in listing.text  # not a filter: ignored
    assert client.get(f"/engagements?customer={'9' * 40}").status_code == 200

    form = {"csrf_token": csrf, "customer_org_id": str(world.orgs["customer_a"].id), "title": "数据中台咨询",
            "goal": "打通数据。", "budget_min": "", "budget_max": "", "industry": "government", "region_code": "",
            "owner_id": str(world.users["operator_admin"].id)}
    before = snapshot(db)
    for change in ({"customer_org_id": "²"}, {"owner_id": "9" * 5000}, {"budget_min": "1e400"},
                   {"budget_max": "-1e400"}, {"budget_max": "10000000000001"}, {"industry": "伪造行业"}):
        bad = client.post("/engagements/new", data={**form, **change})
        assert bad.status_code == 422, (change, bad.status_code)
        assert 'class="alert alert-error"' in bad.text and "打通数据。" in bad.text
        assert bad.text.count('class="field-error"') == 1, change
    assert snapshot(db) == before

    change_form = {"csrf_token": csrf, "mode": "change", "reason": "增加访客黑名单", "effort_hours": "80",
                   "price_impact": "1000", "items-0-key": "R-1", "items-0-title": "单点登录",
                   "items-0-priority": "must"}
    for change in ({"effort_hours": "²"}, {"effort_hours": "9" * 5000}, {"price_impact": "1e30"},
                   {"price_impact": "-1e400"}, {"items-0-owner_id": "²"}):
        bad = client.post(f"/engagements/{engagement.id}/requirements", data={**change_form, **change})
        assert bad.status_code == 422, (change, bad.status_code)
        assert "增加访客黑名单" in bad.text and 'class="field-error"' in bad.text
    consultation = {"csrf_token": csrf, "kind": "call", "title": "电话", "people-0-name": "张三",
                    "people-0-side": "provider", "people-0-hours": "²"}
    for held_on in ("0001-01-01", "9999-12-31"):
        bad = client.post(f"/engagements/{engagement.id}/consultations", data={**consultation, "held_on": held_on})
        assert bad.status_code == 422 and "电话" in bad.text
    assert snapshot(db) == before


def corrupt_xlsx() -> bytes:
    from tests.engagements.test_requirements_excel import truncated_sheet
    return truncated_sheet()


def test_a_corrupt_or_oversized_upload_shows_the_page_again(client, world, db):
    engagement = make_engagement(db, world)
    csrf = as_user(client, world, "operator_admin")
    client.cookies.set("huoban_locale", "en")
    url = f"/engagements/{engagement.id}/requirements/import"
    before = snapshot(db)
    corrupt = client.post(url, data={"csrf_token": csrf},
                          files={"file": ("需求.xlsx", corrupt_xlsx(), "application/octet-stream")})
    assert corrupt.status_code == 422 and "Not a readable .xlsx file." in corrupt.text
    assert 'id="requirements"' in corrupt.text
    huge = b"PK\x03\x04" + b"0" * (2 * 1024 * 1024)
    too_big = client.post(url, data={"csrf_token": csrf},
                          files={"file": ("需求.xlsx", huge, "application/octet-stream")})
    assert too_big.status_code == 413 and too_big.headers["content-type"].startswith("text/html")
    assert "The file is larger than 1 MB." in too_big.text and "智慧园区访客管理" in too_big.text
    assert client.post(url, files={"file": ("a.xlsx", b"PK", "application/octet-stream")}).status_code == 403
    assert snapshot(db) == before
    api = world.call(client, "POST", f"/api/v1/engagements/{engagement.id}/requirements/import", "operator_admin",
                     files={"file": ("a.xlsx", huge, "application/octet-stream")})
    assert api.status_code == 413 and api.json()["code"] == "too_large"
