"""Calendars and policies as stored rows: load a WorkCalendar once per transaction, find the policy
that applies to a customer."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huoban.errors import NotFound
from huoban.models import Calendar, SlaPolicy
from huoban.sla.calendar import WorkCalendar


@lru_cache(maxsize=64)
def _parsed(calendar_id: int, version: int, definition_key: str) -> WorkCalendar:
    return WorkCalendar.from_dict(json.loads(definition_key))


def parse_definition(definition: dict[str, Any]) -> WorkCalendar:
    return WorkCalendar.from_dict(definition)


def work_calendar(session: Session, calendar_id: int) -> WorkCalendar:
    """The calendar as of this transaction (cached per session, and parsed once per version)."""
    cache: dict[int, WorkCalendar] = session.info.setdefault("work_calendars", {})
    if calendar_id not in cache:
        row = session.get(Calendar, calendar_id)
        if row is None:
            raise NotFound("Calendar not found.", field="calendar_id")
        cache[calendar_id] = _parsed(row.id, row.version, json.dumps(row.definition, sort_keys=True))
    return cache[calendar_id]


def forget_calendar(session: Session, calendar_id: int) -> None:
    session.info.get("work_calendars", {}).pop(calendar_id, None)


def policy_for_customer(session: Session, customer_org_id: int) -> SlaPolicy:
    """The customer's default policy, else the operator's global default. (Contracts will override.)"""
    own = session.scalar(
        select(SlaPolicy).where(
            SlaPolicy.customer_org_id == customer_org_id, SlaPolicy.is_default.is_(True), SlaPolicy.is_active.is_(True)
        )
    )
    if own is not None:
        return own
    glob = session.scalar(
        select(SlaPolicy)
        .where(SlaPolicy.customer_org_id.is_(None), SlaPolicy.is_default.is_(True), SlaPolicy.is_active.is_(True))
        .order_by(SlaPolicy.id)
    )
    if glob is None:
        raise NotFound("No SLA policy applies: configure the global default policy.", field="sla_policy_id")
    return glob
