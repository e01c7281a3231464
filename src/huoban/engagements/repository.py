"""Engagement queries, scoped to what the actor may see (the one scoping function of this domain)."""

from __future__ import annotations

from sqlalchemy import Select, false, select
from sqlalchemy.orm import Session

from huoban.errors import NotFound
from huoban.identity.actor import Actor
from huoban.models import Engagement


def readable(stmt: Select, actor: Actor) -> Select:
    """Operators see every engagement; a customer's users their own organization's; partners none
    until the partner domain adds consortia (then: engagements whose consortium they belong to)."""
    if actor.is_operator:
        return stmt
    if actor.is_customer:
        return stmt.where(Engagement.customer_org_id == actor.org_id)
    return stmt.where(false())


def get_engagement(session: Session, actor: Actor, engagement_id: int, *, for_update: bool = False) -> Engagement:
    """The engagement if the actor may see it; otherwise 404 (never 403, so ids do not leak)."""
    stmt = readable(select(Engagement).where(Engagement.id == engagement_id), actor)
    if for_update:
        stmt = stmt.with_for_update()
    engagement = session.scalar(stmt)
    if engagement is None:
        raise NotFound("Engagement not found.", field="engagement_id")
    return engagement
