"""Signing in through the real login form, for page tests of every domain."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.factories import PASSWORD

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no csrf_token field on the page"
    return match.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Log in with the form; return the session's CSRF token for later posts."""
    page = client.get("/login")
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_from(page.text),
                                           "next": "/"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_from(client.get("/").text)
