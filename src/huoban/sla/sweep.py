"""The escalation sweep: fire each due escalation step exactly once, through the outbox.

Idempotent and restart-safe: a step is recorded in `sla_escalations` (unique per clock and percent)
in the same transaction as its outbox e-mails and the clock's next step, one clock per transaction.
A worker killed mid-sweep leaves either all of a step or none of it; running the sweep twice fires
nothing twice. On PostgreSQL several workers sweep at once with FOR UPDATE SKIP LOCKED.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from huoban.db import get_sessionmaker, is_postgres
from huoban.jobs.outbox import enqueue_email, publish_event
from huoban.models import (
    Organization,
    OrgKind,
    Role,
    SlaClock,
    SlaEscalation,
    SlaPolicy,
    Ticket,
    TicketEvent,
    User,
    utcnow,
)
from huoban.sla import clocks as clock_rules
from huoban.sla.store import work_calendar

log = logging.getLogger("huoban.sla")

METRIC_NAMES = {"first_response": "首次响应 first response", "resolution": "解决 resolution",
                "on_site": "上门到达 on-site arrival"}


def recipients(session: Session, ticket: Ticket, who: list[str]) -> list[str]:
    """E-mail addresses for the roles an escalation step names.

    assignee: the ticket's assignee; dispatcher: the operator's dispatchers; account_manager: the
    customer's account manager; service_manager: the operator's admins (the service manager role);
    customer_admin: the customer's admins."""
    emails: list[str] = []

    def operator_role(role: Role) -> list[str]:
        return list(session.scalars(
            select(User.email).join(Organization, Organization.id == User.org_id)
            .where(Organization.kind == OrgKind.operator, User.role == role, User.is_active.is_(True))
            .order_by(User.id)
        ))

    customer = session.get(Organization, ticket.customer_org_id)
    for name in who:
        if name == "assignee" and ticket.assignee_id:
            user = session.get(User, ticket.assignee_id)
            emails += [user.email] if user and user.is_active else []
        elif name == "dispatcher":
            emails += operator_role(Role.dispatcher)
        elif name == "account_manager" and customer is not None and customer.account_manager_id:
            user = session.get(User, customer.account_manager_id)
            emails += [user.email] if user and user.is_active else []
        elif name == "service_manager":
            emails += operator_role(Role.admin)
        elif name == "customer_admin":
            emails += list(session.scalars(select(User.email).where(
                User.org_id == ticket.customer_org_id, User.role == Role.customer_admin, User.is_active.is_(True))))
    return list(dict.fromkeys(emails))


def fire(session: Session, clock: SlaClock, now: datetime) -> SlaEscalation | None:
    """Fire the clock's pending step (if still due) and schedule the next one."""
    percent = clock.next_escalation_percent
    if percent is None or clock.next_escalation_at is None or clock.next_escalation_at > now:
        return None
    if not clock_rules.running(clock) or clock.paused_since is not None:
        return None
    ticket = session.get_one(Ticket, clock.ticket_id)
    policy = session.get_one(SlaPolicy, ticket.sla_policy_id)
    step: dict[str, Any] = next((s for s in policy.escalations or [] if int(s["percent"]) == percent), {"notify": []})
    already = session.scalar(select(SlaEscalation).where(
        SlaEscalation.clock_id == clock.id, SlaEscalation.percent == percent))
    escalation = None
    if already is None:
        notify = recipients(session, ticket, list(step.get("notify", [])))
        escalation = SlaEscalation(clock_id=clock.id, percent=percent, fired_at=now, due_at=clock.due_at,
                                   notified=notify)
        session.add(escalation)
        if percent >= 100:
            clock.breached_at = clock.breached_at or clock.due_at
        label = METRIC_NAMES.get(clock.metric, clock.metric)
        kind = "breach" if percent >= 100 else "escalation"
        session.add(TicketEvent(ticket_id=ticket.id, at=now, kind=kind, to_value=f"{clock.metric}:{percent}",
                                body=f"{label} {percent}%", is_public=False))
        if notify:
            subject = (f"[SLA {'违约 breach' if percent >= 100 else f'{percent}%'}] "
                       f"#{ticket.id} {ticket.priority} {ticket.title}")
            due = clock.due_at.isoformat() if clock.due_at else "-"
            enqueue_email(session, notify, subject,
                          f"工单 #{ticket.id}（{ticket.priority}）{label} 已用 {percent}% 目标时间，到期 {due}。\n"
                          f"Ticket #{ticket.id} ({ticket.priority}) has used {percent}% of its {clock.metric} target; "
                          f"due {due}.",
                          dedupe_key=f"sla:{clock.id}:{percent}", topic=f"sla.{kind}")
        publish_event(session, [ticket.customer_org_id], f"sla.{kind}",
                      {"ticket_id": ticket.id, "metric": clock.metric, "percent": percent},
                      dedupe_key=f"sla-event:{clock.id}:{percent}")
    fired = clock_rules.fired_percents(session, [clock.id])[clock.id] | {percent}
    clock_rules.recompute(clock, work_calendar(session, clock.calendar_id),
                          clock_rules.escalation_percents(policy), fired, now)
    if percent >= 100 and clock.breached_at is None:
        clock.breached_at = clock.due_at
    session.flush()
    return escalation


def due_clock_ids(session: Session, now: datetime, limit: int) -> list[int]:
    return list(session.scalars(
        select(SlaClock.id).where(SlaClock.next_escalation_at <= now, SlaClock.met_at.is_(None),
                                  SlaClock.stopped_at.is_(None), SlaClock.paused_since.is_(None))
        .order_by(SlaClock.next_escalation_at).limit(limit)
    ))


def sweep(now: datetime | None = None, limit: int = 500) -> int:
    """Fire every due step, one clock per transaction; returns how many steps fired."""
    now = now or utcnow()
    fired = 0
    maker = get_sessionmaker()
    seen: set[int] = set()
    while True:
        with maker() as session:
            ids = [i for i in due_clock_ids(session, now, limit + len(seen)) if i not in seen]
        if not ids:
            break
        seen.update(ids)
        fired += _sweep_clocks(maker, ids, now)
    if fired:
        log.info("SLA sweep fired %s escalation steps", fired)
    return fired


def _sweep_clocks(maker: sessionmaker[Session], ids: list[int], now: datetime) -> int:
    fired = 0
    for clock_id in ids:
        with maker() as session, session.begin():
            stmt = select(SlaClock).where(SlaClock.id == clock_id)
            if is_postgres(session):
                # the writers' lock order, ticket before its clocks: a step's ticket event would otherwise wait
                # for the ticket while a ticket change waits for this clock (a deadlock)
                ticket_id = session.scalar(select(SlaClock.ticket_id).where(SlaClock.id == clock_id))
                if ticket_id is None or session.scalar(select(Ticket.id).where(Ticket.id == ticket_id)
                                                       .with_for_update(skip_locked=True)) is None:
                    continue  # gone, or its ticket is being changed: the next sweep takes it
                stmt = stmt.with_for_update(skip_locked=True)
            clock = session.scalar(stmt)
            if clock is None:
                continue  # another worker holds it
            while fire(session, clock, now) is not None:
                fired += 1
    return fired
