"""Every visible string is translated: the catalogs cover what Babel extracts from the code.

The extraction mirrors `make catalogs` (babel.cfg's method map, the Makefile's `-k` keywords), so a new
`_("...")` in a template or a new error message fails here until zh_CN/LC_MESSAGES/messages.po translates it.
The page tests check that labels built at run time (`_("role:" ~ role)`) never reach the HTML untranslated.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from tests.pages import sign_in
from tests.world import World

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "huoban"
TRANSLATIONS = SOURCE / "web" / "translations"
# Label ids are `prefix:value` (role:admin, status:in_progress, ...): run-time values turned into words.
LABEL_ID_RE = re.compile(r"^[a-z_]+:[a-z0-9_]+$")
LABEL_PREFIXES = ("role:", "kind:", "industry:", "level:")
PLACEHOLDER_RE = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
NAV_RE = re.compile(r'<nav id="mainnav"[^>]*>(.*?)</nav>', re.DOTALL)
HREF_RE = re.compile(r'href="(/[^"]*)"')
LOGIN_FAILED = "Wrong e-mail or password, or the account is locked."


def makefile_keywords() -> list[str]:
    """The `-k` options of the Makefile's `catalogs` target, so this test extracts exactly what it does."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"^catalogs:.*?(?=^\S|\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, "no `catalogs` target in the Makefile"
    keywords = re.findall(r"(?:^|\s)-k\s+(\S+)", match.group(0))
    assert "N_" in keywords and "Invalid" in keywords, keywords
    return keywords


@lru_cache
def extracted() -> dict[str, set[str]]:
    """Message id -> the files it comes from (paths relative to src/huoban)."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, filename="babel.cfg")
    keywords = {**DEFAULT_KEYWORDS, **parse_keywords(makefile_keywords())}
    found: dict[str, set[str]] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        SOURCE, method_map, options_map, keywords=keywords
    ):
        ids = message if isinstance(message, (list, tuple)) else (message,)
        if ids and ids[0]:
            found.setdefault(ids[0], set()).add(filename)
    return found


def label_ids() -> list[str]:
    return sorted(msgid for msgid in extracted() if LABEL_ID_RE.match(msgid))


@lru_cache
def raw_label_re() -> re.Pattern[str]:
    """Matches a label id that reached the HTML untranslated, for every label prefix the code uses."""
    prefixes = sorted({msgid.split(":", 1)[0] for msgid in label_ids()} | {p.rstrip(":") for p in LABEL_PREFIXES})
    return re.compile(r"\b(?:" + "|".join(prefixes) + r"):[a-z0-9_]+\b")


@lru_cache
def catalog(locale: str) -> Catalog:
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=locale)


def as_tuple(value: object) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else (str(value or ""),)


def translated(locale: str, msgid: str) -> str | None:
    """The msgstr the app will use (fuzzy entries are left out of the compiled catalog), or None."""
    message = catalog(locale).get(msgid)
    if message is None or message.fuzzy:
        return None
    strings = as_tuple(message.string)
    return strings[0] if all(strings) else None


def placeholders(text: str) -> Counter[str]:
    return Counter(PLACEHOLDER_RE.findall(text))


def test_extraction_finds_the_known_message_kinds() -> None:
    ids = extracted()
    assert len(ids) > 100
    for msgid in ("Sign in", "Welcome, %(name)s", "role:admin", "kind:partner", "level:county", LOGIN_FAILED):
        assert msgid in ids, msgid


def test_every_extracted_message_is_translated_into_chinese() -> None:
    missing = sorted(msgid for msgid in extracted() if not translated("zh_CN", msgid))
    assert not missing, (
        f"{len(missing)} message(s) have no Chinese translation; run `make catalogs` and translate them in "
        "src/huoban/web/translations/zh_CN/LC_MESSAGES/messages.po:\n" + "\n".join(missing)
    )


def test_every_label_id_has_readable_english() -> None:
    labels = label_ids()
    for prefix in LABEL_PREFIXES:
        assert any(msgid.startswith(prefix) for msgid in labels), f"no {prefix} label ids extracted"
    missing = [msgid for msgid in labels if not translated("en", msgid)]
    assert not missing, (
        "label ids without an English msgstr in en/LC_MESSAGES/messages.po:\n" + "\n".join(missing)
    )
    for msgid in labels:
        assert not LABEL_ID_RE.match(str(translated("en", msgid))), msgid


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_placeholders_survive_translation(locale: str) -> None:
    wrong = []
    for message in catalog(locale):
        if not message.id or not message.string:
            continue
        msgid = as_tuple(message.id)[0]
        expected = placeholders(msgid)
        for text in as_tuple(message.string):
            if not text:
                continue
            if placeholders(text) != expected:
                wrong.append(f"{msgid!r} -> {text!r}: placeholders differ")
            elif expected:  # `text % params` must work, so a lone "%" has to be written "%%"
                try:
                    text % dict.fromkeys(expected, 1)
                except (ValueError, TypeError, KeyError) as exc:
                    wrong.append(f"{msgid!r} -> {text!r}: {exc}")
    assert not wrong, f"bad placeholders in {locale}:\n" + "\n".join(wrong)


def test_the_messages_other_tests_rely_on() -> None:
    assert translated("zh_CN", LOGIN_FAILED) == "账号或密码错误，或账号已被锁定。"
    assert "欢迎" in str(translated("zh_CN", "Welcome, %(name)s"))
    assert translated("zh_CN", "Sign in") == "登录"


# --- through HTTP --------------------------------------------------------------------------------


def test_login_page_is_chinese_by_default_and_switches_to_english(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert "登录" in page.text
    assert page.headers["content-language"] == "zh-CN"

    switch = client.get("/lang/en", params={"next": "/login"}, follow_redirects=False)
    assert switch.status_code == 303
    assert switch.headers["location"] == "/login"

    page = client.get("/login")
    assert page.status_code == 200
    assert "Sign in" in page.text
    assert "登录" not in page.text
    assert page.headers["content-language"] == "en"

    client.get("/lang/zh_CN", params={"next": "/login"})
    assert "登录" in client.get("/login").text


def test_language_switch_keeps_the_page_query(client: TestClient) -> None:
    page = client.get("/login", params={"next": "/tickets?status=open"})
    assert page.status_code == 200
    href = re.search(r'href="(/lang/en\?next=[^"]+)"', page.text)
    assert href is not None
    switch = client.get(html.unescape(href.group(1)), follow_redirects=False)
    assert switch.status_code == 303
    back = urlsplit(switch.headers["location"])
    assert (back.path, parse_qs(back.query)) == ("/login", {"next": ["/tickets?status=open"]})
    # a target that a browser reads as another host goes home instead
    for evil in ("//evil.example", "/\\evil.example", "https://evil.example/"):
        assert client.get("/lang/en", params={"next": evil}, follow_redirects=False).headers["location"] == "/"


def signed_in_pages(client: TestClient, world: World, actor: str) -> list[str]:
    """The actor's own pages, every entry of the main menu, and a few the operator reaches from lists."""
    pages = ["/", "/account", f"/orgs/{world.users[actor].org_id}", "/regions", "/regions/330200"]
    nav = NAV_RE.search(client.get("/").text)
    assert nav, "no main menu on the home page"
    pages += HREF_RE.findall(nav.group(1))
    if actor == "operator_admin":
        pages += ["/orgs", "/users", f"/users/{world.users['partner_a_engineer'].id}/edit"]
        pages += [f"/orgs/{world.orgs[key].id}" for key in ("partner_a", "customer_a")]
    return list(dict.fromkeys(pages))


@pytest.mark.parametrize(
    ("locale", "actor", "expected"),
    [
        ("zh_CN", "operator_admin", ["管理员", "运营方", "合作伙伴", "客户"]),
        ("en", "operator_admin", ["Administrator", "Operator", "Partner", "Customer"]),
        ("zh_CN", "operator_agent", ["服务台坐席", "运营方"]),
        ("en", "operator_agent", ["Service desk agent", "Operator"]),
        ("zh_CN", "customer_a_admin", ["客户管理员", "客户"]),
        ("en", "customer_a_admin", ["Customer administrator", "Customer"]),
        ("zh_CN", "partner_a_admin", ["伙伴管理员", "合作伙伴"]),
        ("en", "partner_a_admin", ["Partner administrator", "Partner"]),
    ],
)
def test_signed_in_pages_show_no_raw_label_ids(
    client: TestClient, world: World, locale: str, actor: str, expected: list[str]
) -> None:
    client.get(f"/lang/{locale}", params={"next": "/login"})
    sign_in(client, world.users[actor].email)
    home = client.get("/")
    assert home.status_code == 200
    assert home.headers["content-language"] == locale.replace("_", "-")
    for text in expected:
        assert text in home.text, f"{text!r} missing from / ({locale}, {actor})"
    for path in signed_in_pages(client, world, actor):
        page = client.get(path)
        assert page.status_code == 200, f"{path}: {page.status_code}"
        raw = sorted(set(raw_label_re().findall(page.text)))
        assert not raw, f"{path} ({locale}, {actor}) shows raw label ids: {raw}"
        assert "role:" not in page.text and "kind:" not in page.text, path


@pytest.mark.parametrize(("locale", "level"), [("zh_CN", "地级"), ("en", "Prefecture-level")])
def test_region_level_is_a_readable_label(client: TestClient, world: World, locale: str, level: str) -> None:
    client.get(f"/lang/{locale}", params={"next": "/login"})
    sign_in(client, world.users["customer_a_member"].email)
    page = client.get("/regions/330200")
    assert page.status_code == 200
    assert level in page.text
    assert not raw_label_re().findall(page.text)
