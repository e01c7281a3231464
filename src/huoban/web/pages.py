"""Dependencies shared by HTML pages: the signed-in actor and CSRF checks on form posts."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from huoban.deps import PageActorOrNone
from huoban.errors import Forbidden, LoginRequired
from huoban.identity.actor import Actor
from huoban.web.render import CSRF_COOKIE


def page_actor(request: Request, actor: PageActorOrNone) -> Actor:
    if actor is None:
        raise LoginRequired()
    return actor


PageActor = Annotated[Actor, Depends(page_actor)]


async def csrf_protect(request: Request, _actor: PageActorOrNone) -> None:
    """Form posts must echo the session's CSRF token (or, before login, the CSRF cookie)."""
    form = await request.form()
    sent = str(form.get("csrf_token") or request.headers.get("x-csrf-token") or "")
    expected = getattr(request.state, "csrf_token", None) or request.cookies.get(CSRF_COOKIE) or ""
    if not expected or not sent or not hmac.compare_digest(sent, expected):
        raise Forbidden("The form expired or did not come from this site; please try again.")


CsrfChecked = Depends(csrf_protect)
