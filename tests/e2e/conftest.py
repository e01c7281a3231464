"""Playwright with Debian's Chromium against a real `huoban serve` on loopback, loaded with the demo.

Without /usr/bin/chromium these tests skip with a message; CI sets HUOBAN_REQUIRE_BROWSER=1 so they fail
instead. Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.commands import huoban, live_server

CHROMIUM = os.environ.get("HUOBAN_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("HUOBAN_TEST_ARTIFACTS", "test-artifacts"))
DEMO_PASSWORD = "Huoban-demo-2026"


def _require_browser() -> None:
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return
    message = f"no Chromium at {CHROMIUM}: install Debian's chromium (apt-get install -y chromium)"
    if os.environ.get("HUOBAN_REQUIRE_BROWSER"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-gpu"],
        )
        yield browser
        browser.close()


@pytest.fixture
def demo_server(fresh_database_url: str) -> Iterator[str]:
    loaded = huoban(fresh_database_url, "demo")
    assert loaded.returncode == 0, loaded.stderr
    with live_server(fresh_database_url) as base:
        yield base


def login(page, base: str, email: str, password: str = DEMO_PASSWORD) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
