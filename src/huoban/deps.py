"""FastAPI dependencies: the request's transaction, its settings and the actor behind it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from huoban.config import Settings, get_settings
from huoban.db import session_scope
from huoban.errors import Unauthorized
from huoban.identity.actor import Actor
from huoban.identity.service import actor_from_token, resume_session

SESSION_COOKIE = "huoban_session"


def get_session() -> Iterator[Session]:
    """The request's one transaction: committed when the handler returns, rolled back if it raises."""
    with session_scope() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings)]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def api_actor(request: Request, session: DbSession) -> Actor:
    """The API caller from `Authorization: Bearer hb_...`; 401 otherwise."""
    header = request.headers.get("authorization", "")
    scheme, _, raw = header.partition(" ")
    actor = actor_from_token(session, raw.strip(), client_ip(request)) if scheme.lower() == "bearer" else None
    if actor is None:
        raise Unauthorized("A valid bearer token is required.")
    request.state.actor = actor
    return actor


def page_actor_or_none(request: Request, session: DbSession, settings: AppSettings) -> Actor | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    resumed = resume_session(session, raw, settings, client_ip(request))
    if resumed is None:
        return None
    actor, web = resumed
    request.state.actor = actor
    request.state.csrf_token = web.csrf_token
    return actor


ApiActor = Annotated[Actor, Depends(api_actor)]
PageActorOrNone = Annotated[Actor | None, Depends(page_actor_or_none)]
