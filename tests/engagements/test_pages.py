"""Engagement pages through the HTML forms: the provider's pages, the customer's portal, scoping, what the portal
never shows, and bad input that is shown again and changes nothing."""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huoban.engagements import requirements, service
from huoban.engagements.requirements_schemas import ChangeOrderCreate, DeliverableCreate, ItemIn
from huoban.engagements.schemas import ConsultationCreate, EngagementCreate, ParticipantIn, StageIn
from huoban.identity.service import actor_for
from huoban.models import (
    AuditEntry,
    ChangeOrder,
    Consultation,
    ConsultationParticipant,
    Deliverable,
    Engagement,
    EngagementEvent,
    Organization,
    RequirementItem,
    RequirementVersion,
)
from tests.pages import sign_in
from tests.world import World

SECRET_MINUTES = "内部纪要：客户预算可上浮两成-XK47"
SECRET_FOLLOW_UP = "王强私下评估竞争对手报价-QZ19"
ITEMS = [ItemIn(title="单点登录", description="员工用企业微信登录", acceptance_criteria="十名员工试用通过",
                priority="must"),
         ItemIn(title="并发访问", description="系统支持万人并发访问", acceptance_criteria="压测报告"),
         ItemIn(title="报表导出", description="Export monthly reports as PDF.", priority="could")]


def act(db: Session, world: World, name: str) -> Any:
    user = world.users[name]
    return actor_for(user, db.get_one(Organization, user.org_id))


def make_engagement(db: Session, world: World, *, versions: int = 1, stage: str | None = None) -> Engagement:
    """An engagement of customer A with one consultation (internal minutes, effort) and `versions` versions."""
    admin = act(db, world, "operator_admin")
    engagement = service.create_engagement(db, admin, EngagementCreate(
        customer_org_id=world.orgs["customer_a"].id, title="智慧园区访客管理",
        goal="园区访客预约、登记全部上云，手机扫码进门。",
        budget_min_fen=80_000_000, budget_max_fen=150_000_000, industry="government", region_code="330203",
        member_ids=[world.users["operator_admin"].id]))
    service.add_consultation(db, admin, engagement.id, ConsultationCreate(
        kind="workshop", held_on=date(2026, 3, 2), title="需求工作坊", minutes=SECRET_MINUTES,
        follow_ups=SECRET_FOLLOW_UP, participants=[
            ParticipantIn(user_id=world.users["operator_admin"].id, side="provider", effort_minutes=270),
            ParticipantIn(user_id=world.users["customer_a_admin"].id, side="customer")]))
    for n in range(versions):
        items = [i.model_copy(update={"key": f"R-{k + 1}"}) for k, i in enumerate(ITEMS)] if n else ITEMS
        if n:
            items[1] = items[1].model_copy(update={"description": "系统支持两万人并发访问"})
        requirements.propose_version(db, admin, engagement.id, items, f"第 {n + 1} 版")
    if stage is not None:
        customer_admin = act(db, world, "customer_a_admin")
        requirements.sign(db, customer_admin, engagement.id, versions, "同意")
        path = ("consulting", "proposal", "bidding", "won", "delivering")
        for step in path[:path.index(stage) + 1]:
            service.change_stage(db, admin, engagement.id, StageIn(stage=step))  # type: ignore[arg-type]
    db.commit()
    return engagement


def as_user(client: TestClient, world: World, name: str) -> str:
    client.cookies.clear()
    return sign_in(client, world.users[name].email)


def count(db: Session, model: Any, *where: Any) -> int:
    return db.scalar(select(func.count()).select_from(model).where(*where)) or 0


def snapshot(db: Session) -> tuple[int, ...]:
    return tuple(count(db, m) for m in (Engagement, EngagementEvent, Consultation, ConsultationParticipant,
                                        RequirementVersion, RequirementItem, ChangeOrder, Deliverable))


def state(db: Session) -> tuple[Any, ...]:
    """Row counts (audit included) and every status and stage a refused request could have moved."""
    db.expire_all()
    rows = [db.execute(select(*cols).order_by(cols[0])).all() for cols in (
        (Engagement.id, Engagement.stage, Engagement.title, Engagement.owner_id, Engagement.updated_at),
        (RequirementVersion.id, RequirementVersion.status), (ChangeOrder.id, ChangeOrder.status),
        (Deliverable.id, Deliverable.status, Deliverable.score))]
    return snapshot(db), count(db, AuditEntry), *map(tuple, rows)


def xlsx(*titles: str) -> bytes:
    book = Workbook()
    book.active.append(["标题/title", "优先级/priority"])
    for title in titles:
        book.active.append([title, "must"])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


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


# --- the portal ----------------------------------------------------------------------------------------


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
