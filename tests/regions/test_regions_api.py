"""The regions JSON API: search, one division with its tree, children, distances, errors and access."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huoban.models import Region
from tests.world import World

ADMIN = "customer_a_admin"


def test_all_divisions_are_loaded(db: Session) -> None:
    assert db.scalar(select(func.count()).select_from(Region)) == 3511


def test_search_by_name_puts_the_best_match_first(client: TestClient, world: World) -> None:
    r = world.call(client, "GET", "/api/v1/regions?q=宁波", ADMIN)
    assert r.status_code == 200
    rows = r.json()
    assert (rows[0]["code"], rows[0]["name"], rows[0]["level"]) == ("330200", "宁波市", "city")
    assert rows[0]["full_name"] == "浙江省宁波市"
    assert "330203" in [row["code"] for row in rows]
    assert not any(row["placeholder"] for row in rows)


def test_search_by_district_name_and_by_code(client: TestClient, world: World) -> None:
    first = world.call(client, "GET", "/api/v1/regions?q=海曙", ADMIN).json()[0]
    assert (first["code"], first["name"]) == ("330203", "海曙区")
    by_code = world.call(client, "GET", "/api/v1/regions?q=330203", ADMIN).json()
    assert [row["code"] for row in by_code] == ["330203"]
    placeholder = world.call(client, "GET", "/api/v1/regions?q=110100", ADMIN).json()
    assert [(row["name"], row["placeholder"]) for row in placeholder] == [("市辖区", True)]
    assert world.call(client, "GET", "/api/v1/regions?q=999999", ADMIN).json() == []


def test_search_orders_exact_name_first_then_by_level(client: TestClient, world: World) -> None:
    rows = world.call(client, "GET", "/api/v1/regions?q=北京&limit=5", ADMIN).json()
    assert len(rows) == 5
    assert rows[0]["code"] == "110000"


def test_search_limit_and_bad_input(client: TestClient, world: World) -> None:
    assert len(world.call(client, "GET", "/api/v1/regions?q=区&limit=3", ADMIN).json()) == 3
    for query in ("q=", "q=%20%20", "q=" + "宁" * 51, "", "q=宁波&limit=0"):
        r = world.call(client, "GET", f"/api/v1/regions?{query}", ADMIN)
        assert r.status_code == 422, query
        assert r.json()["errors"], query


def test_division_with_parent_and_children(client: TestClient, world: World) -> None:
    r = world.call(client, "GET", "/api/v1/regions/330200", ADMIN)
    assert r.status_code == 200
    body = r.json()
    assert (body["name"], body["level"], body["province_code"]) == ("宁波市", "city", "330000")
    assert body["parent"]["code"] == "330000"
    children = {c["code"]: c["name"] for c in body["children"]}
    assert children["330203"] == "海曙区"
    assert list(children) == sorted(children)
    assert 29 < body["latitude"] < 31 and 120 < body["longitude"] < 123


def test_municipality_children_are_its_districts(client: TestClient, world: World) -> None:
    body = world.call(client, "GET", "/api/v1/regions/110000", ADMIN).json()
    assert body["parent"] is None
    names = [c["name"] for c in body["children"]]
    assert "东城区" in names and "海淀区" in names
    assert "市辖区" not in names and "县" not in names
    assert all(c["parent_code"] == "110000" and not c["placeholder"] for c in body["children"])
    listed = world.call(client, "GET", "/api/v1/regions/110000/children", ADMIN).json()
    assert listed == body["children"]


def test_distance_between_beijing_and_shanghai(client: TestClient, world: World) -> None:
    r = world.call(client, "GET", "/api/v1/regions/distance?from=110000&to=310000", ADMIN)
    assert r.status_code == 200
    body = r.json()
    assert body["from"]["name"] == "北京市" and body["to"]["name"] == "上海市"
    assert 1000 <= body["km"] <= 1150
    assert body["km"] == round(body["km"], 1)
    back = world.call(client, "GET", "/api/v1/regions/distance?from=310000&to=110000", ADMIN).json()
    assert back["km"] == body["km"]
    same = world.call(client, "GET", "/api/v1/regions/distance?from=330203&to=330203", ADMIN).json()
    assert same["km"] == 0


def test_distance_errors(client: TestClient, world: World) -> None:
    r = world.call(client, "GET", "/api/v1/regions/distance?from=110000&to=999999", ADMIN)
    assert r.status_code == 404
    assert [e["field"] for e in r.json()["errors"]] == ["to"]
    r = world.call(client, "GET", "/api/v1/regions/distance?from=11&to=310000", ADMIN)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["from"]
    assert world.call(client, "GET", "/api/v1/regions/distance?from=110000", ADMIN).status_code == 422


def test_unknown_code_is_a_json_404_naming_the_code(client: TestClient, world: World) -> None:
    for path in ("/api/v1/regions/999999", "/api/v1/regions/999999/children"):
        r = world.call(client, "GET", path, ADMIN)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("application/json")
        assert r.json()["code"] == "not_found"
        assert [e["field"] for e in r.json()["errors"]] == ["code"]


def test_malformed_code_is_422(client: TestClient, world: World) -> None:
    for path in ("/api/v1/regions/3302", "/api/v1/regions/abcdef", "/api/v1/regions/3302001",
                 "/api/v1/regions/33020x/children"):
        r = world.call(client, "GET", path, ADMIN)
        assert r.status_code == 422, path
        assert [e["field"] for e in r.json()["errors"]] == ["code"], path


def test_every_signed_in_actor_reads_regions_and_anonymous_gets_401(client: TestClient, world: World) -> None:
    everyone = {actor: 200 for actor in world.tokens}
    for path in ("/api/v1/regions?q=宁波", "/api/v1/regions/330200", "/api/v1/regions/330200/children",
                 "/api/v1/regions/distance?from=110000&to=310000"):
        world.check(client, "GET", path, {**everyone, "anonymous": 401})
    r = world.call(client, "GET", "/api/v1/regions/330200", "anonymous")
    assert r.json()["code"] == "unauthorized"
