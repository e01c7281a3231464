"""Render Jinja2 pages with the viewer's language, zone, CSRF token and role-based navigation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from huoban.config import get_settings
from huoban.identity.actor import Actor
from huoban.identity.permissions import can_read_audit
from huoban.models import Role
from huoban.service_desk.service import is_agent
from huoban.web.i18n import LOCALE_NAMES, format_instant, gettext_for, pick_locale

LOCALE_COOKIE = "huoban_locale"
CSRF_COOKIE = "huoban_csrf"

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["pretty"] = lambda value: json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True)


def request_locale(request: Request) -> str:
    return pick_locale(
        request.cookies.get(LOCALE_COOKIE), getattr(request.state, "user_locale", None), get_settings().locale
    )


def nav_for(actor: Actor | None) -> list[tuple[str, str]]:
    """Menu entries (msgid, url) a role may use; domains add theirs here as they arrive."""
    if actor is None:
        return []
    items = [("Home", "/")]
    if actor.is_customer:
        items.append(("Tickets", "/tickets"))
    elif is_agent(actor):
        items.append(("Tickets", "/desk"))
    if actor.is_customer:
        items.append(("Engagements", "/portal/engagements"))
        items.append(("Visits", "/visits"))
    elif actor.is_operator:
        items.append(("Engagements", "/engagements"))
    if actor.is_operator and actor.has_role(Role.admin, Role.dispatcher, Role.agent):
        items.append(("Dispatch", "/dispatch"))
    elif actor.has_role(Role.partner_admin):
        items.append(("Work orders", "/dispatch"))
    if actor.has_role(Role.partner_engineer, Role.agent):
        items.append(("My work orders", "/my/orders"))
    if actor.is_operator:
        items.append(("Organizations", "/orgs"))
    else:
        items.append(("My organization", f"/orgs/{actor.org_id}"))
    if actor.is_operator or actor.has_role(Role.partner_admin, Role.customer_admin):
        items.append(("Users", "/users"))
    if can_read_audit(actor):
        items.append(("Audit log", "/audit"))
    items.append(("Regions", "/regions"))
    return items


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    settings = get_settings()
    locale = request_locale(request)
    actor: Actor | None = getattr(request.state, "actor", None)
    tz = getattr(request.state, "user_timezone", None) or settings.timezone
    _ = gettext_for(locale)
    ctx: dict[str, Any] = {
        "actor": actor,
        "_": _,
        "locale": locale,
        "locales": LOCALE_NAMES,
        "timezone": tz,
        "nav": nav_for(actor),
        "csrf_token": getattr(request.state, "csrf_token", None) or request.cookies.get(CSRF_COOKIE, ""),
        "when": lambda value, fmt="medium": format_instant(value, locale, tz, fmt),
        "errors": {},
        "message": None,
    }
    ctx.update(context or {})
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    response.headers["Content-Language"] = locale.replace("_", "-")
    return response
