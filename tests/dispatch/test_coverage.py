"""Coverage through the HTTP API and the page: best arrival per county, gaps per customer with the partners that
could close them, the Excel export, and who may see what."""

from __future__ import annotations

import json
import re
from datetime import date
from io import BytesIO

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from huoban.models import CustomerSite, Region, SlaPolicy
from tests.dispatch.factories import make_engineer, ok, raise_visit_ticket
from tests.factories import make_org, make_user
from tests.pages import sign_in
from tests.world import World

COVERAGE = "/api/v1/dispatch/coverage"
GAPS = "/api/v1/dispatch/coverage/gaps"
LICHENG, LIXIA, SHINAN = "370112", "370102", "370202"  # 济南历城, 济南历下, 青岛市南
SHANGCHENG, HAISHU, LHASA = "330102", "330203", "540102"  # 杭州上城, 宁波海曙, 拉萨城关


def site(db: Session, customer_id: int, name: str, code: str, skills: list[str]) -> CustomerSite:
    region = db.get_one(Region, code)
    row = CustomerSite(customer_org_id=customer_id, name=name, region_code=code, longitude=region.longitude,
                       latitude=region.latitude, required_skills=skills)
    db.add(row)
    db.flush()
    return row


@pytest.fixture
def network(db: Session, world: World, client: TestClient) -> World:
    """partner_b: a network engineer in Jinan serving Shandong (20 min to 历下, 415 min to 青岛).
    partner_a: a network/power engineer in Hangzhou serving anywhere, electrician's certificate expired; a
    storage engineer in Ningbo. customer_b has sites in 历下 and 青岛 (network); customer_a one in Ningbo
    needing a database engineer (nobody) and a ticket needing a visit in Lhasa."""
    make_engineer(db, world.users["partner_b_engineer"], region_code=LICHENG, skills=["network"],
                  regions_served=["370000"])
    make_engineer(db, world.users["partner_a_engineer"], region_code=SHANGCHENG, skills=["network", "power"],
                  certifications=[("电工证", date(2020, 1, 1))])
    make_engineer(db, world.users["partner_a_engineer2"], region_code=HAISHU, skills=["storage"],
                  regions_served=["330000"])
    site(db, world.orgs["customer_b"].id, "济南机房", LIXIA, ["network"])
    site(db, world.orgs["customer_b"].id, "青岛机房", SHINAN, ["network"])
    site(db, world.orgs["customer_a"].id, "宁波数据中心", HAISHU, ["database"])
    db.commit()
    raise_visit_ticket(client, world, site_region_code=LHASA, site_address=None)
    return world


def county(report: dict, code: str) -> dict:  # type: ignore[type-arg]
    [found] = [c for c in report["counties"] if c["code"] == code]
    return found


def test_county_coverage_by_skill_province_and_certification(client: TestClient, network: World) -> None:
    report = ok(network.call(client, "GET", f"{COVERAGE}?skill=network&province=37", "operator_dispatcher"))
    assert report["province"] == "370000" and report["target_minutes"] == 240 and report["engineers"] == 3
    assert report["counties"] and all(c["code"].startswith("37") for c in report["counties"])
    lixia = county(report, LIXIA)
    assert lixia["meets"] is True and lixia["best_minutes"] == 20
    assert lixia["engineer_name"] == "partner_b_engineer" and lixia["org_name"] == "乙伙伴"
    shinan = county(report, SHINAN)
    assert shinan["meets"] is False and shinan["best_minutes"] == 415
    assert shinan["engineer_name"] == "partner_b_engineer"
    assert report["met"] == sum(c["meets"] for c in report["counties"]) and report["unreachable"] == 0

    longer = ok(network.call(client, "GET", f"{COVERAGE}?skill=network&province=370000&target_minutes=500",
                             "operator_admin"))
    assert county(longer, SHINAN)["meets"] is True

    storage = ok(network.call(client, "GET", f"{COVERAGE}?skill=storage&province=37", "operator_agent"))
    assert storage["unreachable"] == len(storage["counties"])  # the Ningbo engineer serves Zhejiang only
    expired = ok(network.call(client, "GET", f"{COVERAGE}?skill=power&certification=电工证&province=33",
                              "operator_dispatcher"))
    assert expired["met"] == 0 and expired["unreachable"] == len(expired["counties"])
    anyone = ok(network.call(client, "GET", f"{COVERAGE}?province=33", "operator_dispatcher"))
    assert county(anyone, HAISHU)["best_minutes"] == 15 and county(anyone, HAISHU)["engineer_name"] == \
        "partner_a_engineer2"


def test_a_partner_sees_coverage_by_its_own_engineers_only(client: TestClient, network: World) -> None:
    report = ok(network.call(client, "GET", f"{COVERAGE}?province=37", "partner_a_admin"))
    partner_a = network.orgs["partner_a"].id
    assert report["engineers"] == 2
    assert {c["org_id"] for c in report["counties"]} == {partner_a}
    assert county(report, LIXIA)["engineer_name"] == "partner_a_engineer" and not county(report, LIXIA)["meets"]
    own = ok(network.call(client, "GET", f"{COVERAGE}?province=37", "partner_b_engineer"))
    assert {c["org_id"] for c in own["counties"]} == {network.orgs["partner_b"].id}


def test_who_may_see_coverage_and_gaps(client: TestClient, network: World) -> None:
    network.check(client, "GET", f"{COVERAGE}?province=37", {
        "operator_admin": 200, "operator_dispatcher": 200, "operator_agent": 200, "operator_system_admin": 403,
        "operator_audit_admin": 403, "partner_a_admin": 200, "partner_a_engineer": 200, "customer_a_admin": 403,
        "anonymous": 401,
    })
    for path in (GAPS, f"{GAPS}.xlsx"):
        network.check(client, "GET", path, {
            "operator_admin": 200, "operator_dispatcher": 200, "operator_agent": 200, "operator_security_admin": 403,
            "customer_a_admin": 200, "customer_a_member": 200, "partner_a_admin": 403, "partner_b_engineer": 403,
            "anonymous": 401,
        })
    customer_b = network.orgs["customer_b"].id
    network.check(client, "GET", f"{GAPS}?customer_org_id={customer_b}", {
        "operator_dispatcher": 200, "customer_b_admin": 200, "customer_a_admin": 404, "customer_a_member": 404,
    })
    network.check(client, "GET", f"{GAPS}.xlsx?customer_org_id={customer_b}", {"customer_a_admin": 404})
    network.check(client, "GET", f"{GAPS}?customer_org_id={network.orgs['partner_a'].id}",
                  {"operator_dispatcher": 404})


def test_gaps_per_customer_with_the_partners_that_could_close_them(client: TestClient, network: World) -> None:
    report = ok(network.call(client, "GET", GAPS, "operator_dispatcher"))
    by_name = {c["customer_name"]: c for c in report}
    assert set(by_name) >= {"甲客户", "乙客户"}

    b = by_name["乙客户"]
    assert b["target_minutes"] == 240 and b["places_checked"] == 2 and b["policy_name"]
    [qingdao] = b["gaps"]
    assert qingdao["site_name"] == "青岛机房" and qingdao["kind"] == "site" and qingdao["region_code"] == SHINAN
    assert qingdao["best_minutes"] == 415 and qingdao["shortfall_minutes"] == 415 - 240
    assert qingdao["engineer_name"] == "partner_b_engineer" and qingdao["engineer_org_name"] == "乙伙伴"
    assert [(p["name"], p["nearest_minutes"], p["same_province"], p["listed_as"]) for p in qingdao["partners"]] == [
        ("乙伙伴", 415, True, "nearest"), ("甲伙伴", 919, False, "nearest")]  # nobody within the target

    a = by_name["甲客户"]
    assert a["places_checked"] == 2
    ningbo, lhasa = a["gaps"]
    assert ningbo["site_name"] == "宁波数据中心" and ningbo["best_minutes"] is None
    assert ningbo["required_skills"] == ["database"] and ningbo["shortfall_minutes"] is None
    # nobody holds `database`: 甲伙伴's storage engineer 15 minutes away does not close the gap, it is only listed
    # among the nearest partners, saying what it lacks
    assert [(p["name"], p["same_province"], p["within_target"], p["has_skills"], p["missing_skills"],
             p["listed_as"]) for p in ningbo["partners"]] == [
        ("甲伙伴", True, False, False, ["database"], "nearest"),
        ("乙伙伴", False, False, False, ["database"], "nearest")]
    assert ningbo["partners"][0]["nearest_minutes"] == 15
    assert ningbo["partners"][0]["engineer_name"] == "partner_a_engineer2"
    assert lhasa["kind"] == "ticket_county" and lhasa["site_id"] is None and lhasa["region_code"] == LHASA
    assert lhasa["best_minutes"] is not None and lhasa["best_minutes"] > 240  # Hangzhou's engineer serves anywhere

    mine = ok(network.call(client, "GET", GAPS, "customer_a_admin"))
    assert [c["customer_name"] for c in mine] == ["甲客户"]
    assert ok(network.call(client, "GET", f"{GAPS}?target_minutes=500", "customer_b_admin"))[0]["gaps"] == []


def test_a_partner_closes_a_gap_only_with_engineers_holding_the_skills_needed(client: TestClient, db: Session,
                                                                           network: World) -> None:
    """丙伙伴's database engineer in Hangzhou (serving Hangzhou only, so the Ningbo site stays a gap) is farther
    than 甲伙伴's storage engineer in Ningbo, yet only 丙伙伴 could close the gap; with a tighter target nobody
    arrives in time and the nearest partners are listed, those without the skill saying so."""
    third = make_org(db, "partner", "丙伙伴", region_code="330100")
    make_engineer(db, make_user(db, third, "partner_engineer", email="db@c.test", display_name="丙 DBA"),
                  region_code=SHANGCHENG, skills=["database", "storage"], regions_served=["330100"])
    for name, home in (("丁伙伴", "330205"), ("戊伙伴", "330212")):  # Ningbo storage engineers, no database
        org = make_org(db, "partner", name, region_code="330200")
        make_engineer(db, make_user(db, org, "partner_engineer", email=f"{home}@c.test"), region_code=home,
                      skills=["storage"])
    db.commit()
    customer_a = network.orgs["customer_a"].id

    [a] = ok(network.call(client, "GET", f"{GAPS}?customer_org_id={customer_a}", "operator_dispatcher"))
    [ningbo] = [g for g in a["gaps"] if g["site_name"] == "宁波数据中心"]
    assert ningbo["best_minutes"] is None  # 丙伙伴's engineer does not serve Ningbo (yet)
    [only] = ningbo["partners"]
    assert (only["name"], only["engineer_name"], only["has_skills"], only["missing_skills"], only["within_target"],
            only["listed_as"]) == ("丙伙伴", "丙 DBA", True, [], True, "within_target")
    hangzhou = only["nearest_minutes"]
    assert 60 < hangzhou <= 240

    [a] = ok(network.call(client, "GET", f"{GAPS}?customer_org_id={customer_a}&target_minutes=60",
                          "operator_dispatcher"))
    [ningbo] = [g for g in a["gaps"] if g["site_name"] == "宁波数据中心"]
    listed = [(p["name"], p["has_skills"], p["missing_skills"], p["within_target"], p["listed_as"])
              for p in ningbo["partners"]]
    # the three nearest lack the skill, so the nearest partner that has it comes after them
    assert listed[3] == ("丙伙伴", True, [], False, "nearest") and ningbo["partners"][3]["nearest_minutes"] == hangzhou
    assert sorted(listed[:3]) == [(name, False, ["database"], False, "nearest")
                                  for name in ("丁伙伴", "戊伙伴", "甲伙伴")]
    assert len(listed) == 4  # 乙伙伴 is neither among the nearest nor in Zhejiang

    sign_in(client, "customer_a_admin@world.test")
    html = client.get("/dispatch/coverage?target=60").text
    assert html.count('data-lacks="database"') == 3
    sheet = load_workbook(BytesIO(client.get("/dispatch/coverage/gaps.xlsx?target=60").content))["覆盖缺口"]
    [row] = [r for r in sheet.iter_rows(values_only=True) if r[4] == "宁波数据中心"]
    assert "甲伙伴（15 分钟，同省，缺技能：database，最近）" in row[14]
    assert f"丙伙伴（{hangzhou} 分钟，同省，最近）" in row[14]


def test_the_customers_on_site_target_comes_from_its_sla_policy(client: TestClient, db: Session,
                                                               network: World) -> None:
    customer_b = network.orgs["customer_b"].id
    db.add(SlaPolicy(name="乙客户 上门 8 小时", calendar_id=1, customer_org_id=customer_b, is_default=True,
                     targets={"P1": {"first_response": 15, "resolution": 1440, "on_site": 480}},
                     pause_statuses=[], escalations=[], is_active=True))
    db.commit()
    [b] = ok(network.call(client, "GET", f"{GAPS}?customer_org_id={customer_b}", "operator_dispatcher"))
    assert b["policy_name"] == "乙客户 上门 8 小时" and b["target_minutes"] == 480 and b["gaps"] == []
    [b] = ok(network.call(client, "GET", f"{GAPS}?customer_org_id={customer_b}&target_minutes=60",
                          "operator_dispatcher"))
    assert {g["site_name"] for g in b["gaps"]} == {"青岛机房"}  # 20 min to 历下 still meets an hour


def test_bad_filters_are_422_naming_the_field(client: TestClient, network: World) -> None:
    for query, field in (("target_minutes=0", "target_minutes"), ("target_minutes=99999", "target_minutes"),
                         ("province=99", "province"), ("province=3701", "province"), ("skill=Net!", "skill"),
                         ("skill=" + "x" * 40, "skill")):
        response = network.call(client, "GET", f"{COVERAGE}?{query}", "operator_dispatcher")
        assert response.status_code == 422, query
        assert [e["field"] for e in response.json()["errors"]] == [field], query
    response = network.call(client, "GET", f"{GAPS}?target_minutes=-5", "operator_dispatcher")
    assert response.status_code == 422 and [e["field"] for e in response.json()["errors"]] == ["target_minutes"]


def test_excel_export_has_a_row_per_gap(client: TestClient, network: World) -> None:
    response = network.call(client, "GET", f"{GAPS}.xlsx", "operator_dispatcher")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(BytesIO(response.content))
    sheet = book["覆盖缺口"]
    assert sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("客户", "服务策略", "上门时限(分钟)")
    data = {(r[0], r[4]): r for r in rows[1:]}
    assert set(data) == {("乙客户", "青岛机房"), ("甲客户", "宁波数据中心"), ("甲客户", "西藏自治区拉萨市城关区")}
    qingdao = data[("乙客户", "青岛机房")]
    assert qingdao[5] == SHINAN and qingdao[10] == 415 and qingdao[11] == 175
    assert "乙伙伴（415 分钟，同省，最近）" in qingdao[14]
    assert data[("甲客户", "宁波数据中心")][10] == "无合格工程师"
    summary = list(book["客户汇总"].iter_rows(values_only=True))
    assert summary[0][0] == "客户" and ("乙客户", 2, 1) in {(r[0], r[3], r[4]) for r in summary[1:]}

    mine = load_workbook(BytesIO(network.call(client, "GET", f"{GAPS}.xlsx", "customer_a_admin").content))
    assert {r[0] for r in list(mine["覆盖缺口"].iter_rows(values_only=True))[1:]} == {"甲客户"}


def test_coverage_page_for_a_dispatcher_a_partner_and_a_customer(client: TestClient, network: World) -> None:
    sign_in(client, "operator_dispatcher@world.test")
    page = client.get("/dispatch/coverage?skill=network&province=370000")
    assert page.status_code == 200
    html = page.text
    assert 'id="coverage-map"' in html and 'id="coverage-points"' in html and "/static/js/coverage.js" in html
    assert "echarts.min.js" in html and "/dispatch/coverage/gaps.xlsx" in html
    assert "青岛机房" in html and "乙伙伴" in html
    assert "<script>" not in html  # the CSP allows no inline scripts; data travels as application/json
    sheet = client.get("/dispatch/coverage/gaps.xlsx")
    assert sheet.status_code == 200 and load_workbook(BytesIO(sheet.content))["覆盖缺口"].max_row == 4
    assert client.get("/dispatch/coverage?target=abc").status_code == 422
    assert client.get("/static/js/coverage.js").status_code == 200

    client.cookies.clear()
    sign_in(client, "partner_a_admin@world.test")
    html = client.get("/dispatch/coverage").text
    assert 'id="coverage-map"' in html and "青岛机房" not in html and "partner_b_engineer" not in html
    assert client.get("/dispatch/coverage/gaps.xlsx").status_code == 403

    client.cookies.clear()
    sign_in(client, "customer_a_admin@world.test")
    page = client.get("/dispatch/coverage")
    assert page.status_code == 200
    assert 'data-mode="sites"' in page.text and "宁波数据中心" in page.text and "青岛机房" not in page.text

    client.cookies.clear()
    sign_in(client, "operator_system_admin@world.test")
    assert client.get("/dispatch/coverage").status_code == 403


def test_far_gaps_list_the_three_nearest_partners_and_those_of_the_same_province(client: TestClient, db: Session,
                                                                              network: World) -> None:
    for name, home in (("成都伙伴", "510107"), ("西宁伙伴", "630102"), ("广州伙伴", "440106"), ("昆明伙伴", "530102")):
        org = make_org(db, "partner", name)
        make_engineer(db, make_user(db, org, "partner_engineer", email=f"{home}@far.test"), region_code=home)
    make_org(db, "partner", "拉萨伙伴", region_code="540000")  # in Tibet, no engineers yet
    db.commit()
    [a] = ok(network.call(client, "GET", f"{GAPS}?customer_org_id={network.orgs['customer_a'].id}",
                          "operator_dispatcher"))
    [lhasa] = [g for g in a["gaps"] if g["region_code"] == LHASA]
    listed = [(p["name"], p["listed_as"]) for p in lhasa["partners"]]
    assert len(listed) == 4 and listed[-1] == ("拉萨伙伴", "same_province")
    assert {name for name, why in listed[:3] if why == "nearest"} == {"西宁伙伴", "成都伙伴", "昆明伙伴"}
    minutes = [p["nearest_minutes"] for p in lhasa["partners"][:3]]
    assert minutes == sorted(minutes) and lhasa["partners"][-1]["nearest_minutes"] is None


def chart_data(html: str, name: str) -> list:
    """One of the page's JSON blocks that feed the map."""
    found = re.search(rf'<script type="application/json" id="coverage-{name}">(.*?)</script>', html, re.S)
    assert found, name
    return json.loads(found.group(1))


def test_a_customer_sees_a_map_of_its_own_sites_only(client: TestClient, network: World) -> None:
    sign_in(client, "customer_b_admin@world.test")
    html = client.get("/dispatch/coverage").text
    assert 'id="coverage-map"' in html and 'data-mode="sites"' in html
    assert [p[4] for p in chart_data(html, "site-points")] == ["济南机房"]  # within the target
    assert [p[4] for p in chart_data(html, "gap-points")] == ["青岛机房"]
    assert chart_data(html, "points") == []  # no county coverage: that would show where engineers live
    context = chart_data(html, "context-points")
    assert context and all(len(point) == 3 and point[2].startswith("山东省") for point in context)
    blocks = "".join(json.dumps(chart_data(html, name), ensure_ascii=False)
                     for name in ("site-points", "gap-points", "context-points"))
    assert "宁波数据中心" not in blocks and "partner_b_engineer" not in blocks and "乙伙伴" not in blocks


def test_another_customers_gaps_page_and_sheet_are_not_found(client: TestClient, network: World) -> None:
    customer_a, customer_b = network.orgs["customer_a"].id, network.orgs["customer_b"].id
    sign_in(client, "customer_a_admin@world.test")
    assert client.get(f"/dispatch/coverage/gaps.xlsx?customer={customer_b}").status_code == 404
    assert client.get(f"/dispatch/coverage?customer={customer_b}").status_code == 404
    own = client.get(f"/dispatch/coverage/gaps.xlsx?customer={customer_a}")
    assert own.status_code == 200
    assert {r[0] for r in list(load_workbook(BytesIO(own.content))["覆盖缺口"].iter_rows(values_only=True))[1:]} \
        == {"甲客户"}

    client.cookies.clear()
    sign_in(client, "partner_b_admin@world.test")
    for customer in (customer_a, customer_b):
        assert client.get(f"/dispatch/coverage/gaps.xlsx?customer={customer}").status_code == 403
