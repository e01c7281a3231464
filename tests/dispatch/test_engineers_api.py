"""Engineer profiles through the API: who may create and change them, home base by code or by a free-text
address, skills from the fixed vocabulary, regions served, calendar, certifications and absences, and lists."""

from __future__ import annotations

from sqlalchemy import func, select

from huoban.models import AuditEntry, EngineerAbsence, EngineerCertification
from tests.dispatch.factories import (
    ENGINEERS,
    LICHENG,
    SHOUGUANG,
    FrozenTime,
    calendar_id,
    create_engineer,
    cst,
    error_fields,
    ok,
)


def test_a_dispatcher_creates_an_engineer_with_a_home_address_resolved_to_its_county(client, world, db):
    body = create_engineer(client, world, "partner_b_engineer", home_region_code=None,
                           home_address="山东省潍坊市寿光市文圣街 88 号", skills=["network", "power_scada", "network"],
                           regions_served=["370000", "130100"], max_orders_per_day=3,
                           certifications=[{"name": "电工证", "number": "DG-001", "expires_on": "2028-06-30"}])
    assert (body["home_region_code"], body["home_region_name"]) == (SHOUGUANG, "山东省潍坊市寿光市")
    assert body["home_address"] == "山东省潍坊市寿光市文圣街 88 号"
    assert 118 < body["home_longitude"] < 119.5 and 36 < body["home_latitude"] < 37.5
    assert body["skills"] == ["network", "power_scada"] and body["regions_served"] == ["370000", "130100"]
    assert (body["org_id"], body["org_name"], body["name"]) == (world.orgs["partner_b"].id, "乙伙伴",
                                                                 "partner_b_engineer")
    assert body["calendar_id"] == calendar_id(db, "24x7") and body["max_orders_per_day"] == 3
    assert [(c["name"], c["number"], c["expires_on"]) for c in body["certifications"]] == [
        ("电工证", "DG-001", "2028-06-30")]
    assert body["absences"] == [] and body["active_work_order_id"] is None and body["is_active"] is True
    assert db.scalar(select(AuditEntry.action).where(AuditEntry.object_type == "engineer")) == "engineer.create"

    again = world.call(client, "POST", ENGINEERS, "operator_dispatcher",
                       json={"user_id": world.users["partner_b_engineer"].id, "home_region_code": SHOUGUANG})
    assert again.status_code == 409 and error_fields(again) == ["user_id"]


def test_partner_admins_manage_only_their_own_partners_engineers(client, world):
    own = create_engineer(client, world, "partner_a_engineer", actor="partner_a_admin")
    assert own["org_id"] == world.orgs["partner_a"].id
    other = world.call(client, "POST", ENGINEERS, "partner_a_admin",
                       json={"user_id": world.users["partner_b_engineer"].id, "home_region_code": SHOUGUANG})
    assert other.status_code == 404 and error_fields(other) == ["user_id"]
    for actor, status in (("partner_a_engineer2", 403), ("operator_agent", 403), ("customer_a_admin", 404)):
        response = world.call(client, "POST", ENGINEERS, actor,
                              json={"user_id": world.users["partner_a_engineer2"].id, "home_region_code": SHOUGUANG})
        assert response.status_code == status, (actor, response.text)
    customer = world.call(client, "POST", ENGINEERS, "operator_admin",
                          json={"user_id": world.users["customer_a_member"].id, "home_region_code": SHOUGUANG})
    assert customer.status_code == 422 and error_fields(customer) == ["user_id"]

    b = create_engineer(client, world, "partner_b_engineer")
    assert world.call(client, "PATCH", f"{ENGINEERS}/{b['id']}", "partner_a_admin",
                      json={"skills": ["storage"]}).status_code == 404
    changed = ok(world.call(client, "PATCH", f"{ENGINEERS}/{own['id']}", "partner_a_admin",
                            json={"skills": ["storage", "cloud"], "home_region_code": LICHENG, "is_active": False,
                                  "calendar_id": 2}))
    assert changed["skills"] == ["storage", "cloud"] and changed["home_region_name"] == "山东省济南市历城区"
    assert changed["is_active"] is False and changed["calendar_id"] == 2


def test_bad_input_names_the_field(client, world):
    def fields(**body):  # type: ignore[no-untyped-def]
        payload = {"user_id": world.users["partner_b_engineer"].id, "home_region_code": SHOUGUANG, **body}
        response = world.call(client, "POST", ENGINEERS, "operator_dispatcher", json=payload)
        assert response.status_code == 422, response.text
        return error_fields(response)

    assert fields(skills=["juggling"])[0].startswith("skills")
    assert fields(home_region_code="999999") == ["home_region_code"]
    assert fields(home_region_code="370000") == ["home_region_code"]  # a province is too coarse
    assert fields(home_region_code=None, home_address="火星基地") == ["home_address"]
    assert fields(home_region_code=None) == ["home_region_code"]
    assert fields(regions_served=["370000", "123456"]) == ["regions_served"]
    assert fields(regions_served=["37"])[0].startswith("regions_served")
    assert fields(calendar_id=999) == ["calendar_id"]
    assert fields(max_orders_per_day=0)[0].startswith("max_orders_per_day")


def test_certifications_and_absences(client, world, monkeypatch):
    FrozenTime(monkeypatch, cst(2029, 11, 1, 10))
    engineer = create_engineer(client, world, "partner_a_engineer", actor="partner_a_admin")
    path = f"{ENGINEERS}/{engineer['id']}"
    cert = ok(world.call(client, "POST", f"{path}/certifications", "partner_a_admin",
                         json={"name": "CISP", "number": "CISP-7", "expires_on": "2027-01-01"}), 201)
    assert world.call(client, "POST", f"{path}/certifications", "partner_b_admin",
                      json={"name": "CISP"}).status_code == 404
    absence = {"kind": "training", "starts_at": "2030-05-01T09:00:00+08:00", "ends_at": "2030-05-03T18:00:00+08:00"}
    made = ok(world.call(client, "POST", f"{path}/absences", "operator_dispatcher", json=absence), 201)
    assert made["kind"] == "training"
    for bad in ({**absence, "ends_at": "2030-05-01T08:00:00+08:00"}, {**absence, "starts_at": "2030-05-01T09:00:00"},
                {**absence, "kind": "holiday"}):
        response = world.call(client, "POST", f"{path}/absences", "partner_a_admin", json=bad)
        assert response.status_code == 422, bad
    wrong = world.call(client, "POST", f"{path}/absences", "partner_a_admin",
                       json={**absence, "ends_at": "2030-05-01T08:00:00+08:00"})
    assert error_fields(wrong) == ["ends_at"]
    read = ok(world.call(client, "GET", path, "partner_a_engineer"))
    assert [c["name"] for c in read["certifications"]] == ["CISP"] and [a["id"] for a in read["absences"]] == [
        made["id"]]
    assert world.call(client, "DELETE", f"{path}/certifications/{cert['id']}", "partner_a_engineer").status_code == 403
    assert world.call(client, "DELETE", f"{path}/certifications/{cert['id']}", "partner_a_admin").status_code == 204
    assert world.call(client, "DELETE", f"{path}/certifications/{cert['id']}", "partner_a_admin").status_code == 404
    assert world.call(client, "DELETE", f"{path}/absences/{made['id']}", "partner_a_admin").status_code == 204
    read = ok(world.call(client, "GET", path, "partner_a_admin"))
    assert read["certifications"] == [] and read["absences"] == []


def test_absence_and_expiry_dates_stay_within_a_sane_window(client, world, db, monkeypatch):
    FrozenTime(monkeypatch, cst(2026, 11, 26, 10))
    engineer = create_engineer(client, world, "partner_a_engineer", actor="partner_a_admin")
    path = f"{ENGINEERS}/{engineer['id']}"

    def refused(url: str, body: dict[str, object]) -> list[str]:
        response = world.call(client, "POST", url, "partner_a_admin", json=body)
        assert response.status_code == 422, response.text
        return error_fields(response)

    leave = {"kind": "leave", "starts_at": "2026-12-01T00:00:00+08:00", "ends_at": "2026-12-03T00:00:00+08:00"}
    assert refused(f"{path}/absences", {**leave, "ends_at": "9999-12-30T00:00:00+00:00"}) == ["ends_at"]
    assert refused(f"{path}/absences", {**leave, "ends_at": "2027-12-05T00:00:00+08:00"}) == ["ends_at"]
    assert refused(f"{path}/absences", {**leave, "starts_at": "2029-01-01T00:00:00+08:00",
                                        "ends_at": "2029-01-02T00:00:00+08:00"}) == ["starts_at"]
    assert refused(f"{path}/absences", {**leave, "starts_at": "2025-11-01T00:00:00+08:00"}) == ["starts_at"]
    assert db.scalar(select(func.count()).select_from(EngineerAbsence)) == 0
    ok(world.call(client, "POST", f"{path}/absences", "partner_a_admin",
                  json={**leave, "ends_at": "2027-11-30T00:00:00+08:00"}), 201)  # a year: the longest

    assert refused(f"{path}/certifications", {"name": "CISP", "expires_on": "9999-12-31"}) == ["expires_on"]
    assert refused(f"{path}/certifications", {"name": "CISP", "expires_on": "1900-01-01"}) == ["expires_on"]
    response = world.call(client, "PATCH", path, "partner_a_admin",
                          json={"certifications": [{"name": "CISP", "expires_on": "9999-12-31"}]})
    assert response.status_code == 422 and error_fields(response) == ["expires_on"]
    assert db.scalar(select(func.count()).select_from(EngineerCertification)) == 0
    ok(world.call(client, "POST", f"{path}/certifications", "partner_a_admin",
                  json={"name": "CISP", "expires_on": "2056-12-31"}), 201)


def test_lists_filter_by_organization_skill_region_and_activity(client, world):
    a = create_engineer(client, world, "partner_a_engineer", skills=["network", "storage"])
    b = create_engineer(client, world, "partner_b_engineer", skills=["power"], home_region_code="330203")
    c = create_engineer(client, world, "partner_a_engineer2", skills=["storage"], home_region_code=LICHENG,
                        is_active=False)

    def ids(query: str = "", actor: str = "operator_dispatcher") -> list[int]:
        return [e["id"] for e in ok(world.call(client, "GET", f"{ENGINEERS}{query}", actor))["items"]]

    assert ids() == [a["id"], b["id"], c["id"]]
    assert ids(f"?org_id={world.orgs['partner_a'].id}") == [a["id"], c["id"]]
    assert ids("?skill=storage") == [a["id"], c["id"]]
    assert ids("?region_code=370000") == [a["id"], c["id"]]
    assert ids("?region_code=370700") == [a["id"]]
    assert ids("?active=true&skill=storage") == [a["id"]]
    assert ids(actor="partner_b_admin") == [b["id"]]
    assert ids(actor="partner_a_engineer") == [a["id"], c["id"]]
    assert ids(actor="customer_a_admin") == []
    assert world.call(client, "GET", f"{ENGINEERS}?skill=juggling", "operator_dispatcher").status_code == 422
