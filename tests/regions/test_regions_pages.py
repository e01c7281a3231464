"""The regions pages: search with and without htmx, a division's page, and the login requirement."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.factories import PASSWORD
from tests.world import World


def sign_in(client: TestClient, email: str) -> None:
    form = client.get("/login")
    assert form.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert match, "login form without a CSRF token"
    r = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": match.group(1)},
                    follow_redirects=False)
    assert r.status_code == 303, r.text


def test_search_page_without_js(client: TestClient, world: World) -> None:
    sign_in(client, world.users["customer_a_member"].email)
    r = client.get("/regions", params={"q": "宁波"})
    assert r.status_code == 200
    assert "宁波市" in r.text and "浙江省宁波市" in r.text
    assert 'href="/regions/330200"' in r.text
    assert 'hx-get="/regions/search"' in r.text and 'hx-target="#region-results"' in r.text
    assert r.text.index("/regions/330200") < r.text.index("/regions/330203")


def test_search_page_is_empty_until_asked(client: TestClient, world: World) -> None:
    sign_in(client, world.users["partner_a_engineer"].email)
    r = client.get("/regions")
    assert r.status_code == 200
    assert 'id="region-results"' in r.text
    assert "/regions/330200" not in r.text


def test_search_fragment_for_htmx(client: TestClient, world: World) -> None:
    sign_in(client, world.users["customer_a_admin"].email)
    r = client.get("/regions/search", params={"q": "海曙"}, headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert "<html" not in r.text
    assert "330203" in r.text and "浙江省宁波市海曙区" in r.text
    too_long = client.get("/regions/search", params={"q": "宁" * 51}, headers={"HX-Request": "true"})
    assert too_long.status_code == 200
    assert 'role="alert"' in too_long.text
    assert client.get("/regions", params={"q": "宁" * 51}).status_code == 422


def test_division_page_shows_parents_children_and_coordinates(client: TestClient, world: World) -> None:
    sign_in(client, world.users["customer_a_admin"].email)
    r = client.get("/regions/330203")
    assert r.status_code == 200
    assert "海曙区" in r.text and "浙江省宁波市海曙区" in r.text
    assert 'href="/regions/330000"' in r.text and 'href="/regions/330200"' in r.text
    assert re.search(r"121\.\d{6}", r.text) and re.search(r"29\.\d{6}", r.text)
    city = client.get("/regions/330200")
    assert 'href="/regions/330203"' in city.text
    beijing = client.get("/regions/110000")
    assert 'href="/regions/110108"' in beijing.text and 'href="/regions/110100"' not in beijing.text
    assert client.get("/regions/999999").status_code == 404
    assert client.get("/regions/33020").status_code == 422


def test_pages_require_sign_in(client: TestClient) -> None:
    for path in ("/regions", "/regions?q=宁波", "/regions/search?q=宁波", "/regions/330200"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/login"), path
