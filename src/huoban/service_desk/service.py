"""Ticket rules: who may raise, see and change what; the lifecycle; clocks follow every change.

Lifecycle: new → acknowledged → in_progress ↔ waiting_customer → resolved → closed, with reopen
from resolved or closed. Every change appends a TicketEvent; the first public reply by the
provider meets the first-response clock, resolving meets the resolution clock, waiting on the
customer pauses the clocks (in working time), reopening starts a new resolution cycle. A change that moves
the on-site clock or the priority reaches the ticket's open work orders in the same transaction.
"""

from __future__ import annotations

import codecs
import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huoban.audit.service import record
from huoban.dispatch.service import refresh_for_tickets
from huoban.errors import Conflict, Forbidden, Invalid, NotFound
from huoban.identity.actor import Actor
from huoban.jobs.outbox import enqueue_email, publish_event
from huoban.models import Organization, OrgKind, Region, Role, SlaPolicy, Ticket, TicketAttachment, TicketEvent, User
from huoban.models import utcnow as _utcnow
from huoban.service_desk.repository import get_ticket
from huoban.service_desk.schemas import CommentIn, RatingIn, TicketCreate, TicketUpdate, TransitionIn
from huoban.sla import clocks
from huoban.sla.store import policy_for_customer

TRANSITIONS: dict[str, set[str]] = {
    "new": {"acknowledged", "in_progress", "waiting_customer", "resolved"},
    "acknowledged": {"in_progress", "waiting_customer", "resolved"},
    "in_progress": {"waiting_customer", "resolved"},
    "waiting_customer": {"in_progress", "resolved"},
    "resolved": {"closed", "in_progress"},
    "closed": {"in_progress"},
}
AGENT_ROLES = (Role.admin, Role.agent, Role.dispatcher, Role.account_manager, Role.presales)
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
ALLOWED_TYPES = {
    "image/png": (b"\x89PNG",), "image/jpeg": (b"\xff\xd8\xff",), "image/gif": (b"GIF8",),
    "application/pdf": (b"%PDF",), "text/plain": (), "text/csv": (), "application/zip": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (b"PK\x03\x04",),
}
EXTENSIONS = {
    "image/png": (".png",), "image/jpeg": (".jpg", ".jpeg"), "image/gif": (".gif",), "application/pdf": (".pdf",),
    "text/plain": (".txt", ".log"), "text/csv": (".csv",), "application/zip": (".zip",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (".pptx",),
}


def utcnow() -> datetime:
    return _utcnow()


def is_agent(actor: Actor) -> bool:
    return actor.is_operator and actor.has_role(*AGENT_ROLES)


def _policy(session: Session, ticket: Ticket) -> SlaPolicy:
    return session.get_one(SlaPolicy, ticket.sla_policy_id)


def _event(session: Session, ticket: Ticket, actor: Actor | None, kind: str, *, old: str | None = None,
           new: str | None = None, body: str | None = None, public: bool = True, at: datetime | None = None
           ) -> TicketEvent:
    event = TicketEvent(ticket_id=ticket.id, at=at or utcnow(), actor_id=actor.user_id if actor else None, kind=kind,
                        from_value=None if old is None else old[:64], to_value=None if new is None else new[:64],
                        body=body, is_public=public)
    session.add(event)
    session.flush()
    return event


def open_ticket(session: Session, actor: Actor, data: TicketCreate, channel: str = "api") -> Ticket:
    """A customer user raises a ticket for its organization; an agent raises one on a customer's behalf."""
    if actor.is_customer:
        if data.customer_org_id not in (None, actor.org_id):
            raise NotFound("Organization not found.", field="customer_org_id")
        org_id, raised_by = actor.org_id, actor.user_id
        if data.raised_by_id not in (None, actor.user_id):
            raise Invalid("Customers raise tickets as themselves.", field="raised_by_id")
    elif is_agent(actor):
        if data.customer_org_id is None:
            raise Invalid("Choose the customer this ticket is for.", field="customer_org_id")
        org = session.get(Organization, data.customer_org_id)
        if org is None or org.kind != OrgKind.customer:
            raise Invalid("Not a customer organization.", field="customer_org_id")
        org_id = org.id
        raised_by = actor.user_id
        if data.raised_by_id is not None:
            caller = session.get(User, data.raised_by_id)
            if caller is None or caller.org_id != org_id:
                raise Invalid("That user does not belong to the customer.", field="raised_by_id")
            raised_by = caller.id
        channel = data.channel or "phone"
    else:
        raise Forbidden("Only customer users and service agents raise tickets.")
    if data.site_region_code and session.get(Region, data.site_region_code) is None:
        raise Invalid("Unknown administrative division code %(code)s.", field="site_region_code",
                      code=data.site_region_code)
    policy = policy_for_customer(session, org_id)
    now = utcnow()
    ticket = Ticket(
        customer_org_id=org_id, raised_by_id=raised_by, created_by_id=actor.user_id, channel=channel,
        title=data.title, description=data.description, category=data.category, priority=data.priority,
        status="new", site_region_code=data.site_region_code, site_address=data.site_address,
        on_site_required=data.on_site_required, sla_policy_id=policy.id, created_at=now, updated_at=now,
        reopened_count=0,
    )
    session.add(ticket)
    session.flush()
    _event(session, ticket, actor, "created", new="new", at=now)
    clocks.start_clocks(session, ticket, policy, now)
    record(session, actor, "ticket.create", "ticket", ticket.id,
           after={"title": ticket.title, "priority": ticket.priority, "customer_org_id": org_id})
    publish_event(session, [org_id], "ticket.created", {"ticket_id": ticket.id, "priority": ticket.priority})
    return ticket


def update_ticket(session: Session, actor: Actor, ticket_id: int, data: TicketUpdate) -> Ticket:
    ticket = get_ticket(session, actor, ticket_id, for_update=True)
    if not is_agent(actor):
        raise Forbidden("Only service agents change a ticket's priority, category or assignee.")
    changes = data.model_dump(exclude_unset=True)
    now = utcnow()
    before = {k: getattr(ticket, k) for k in changes}
    if "assignee_id" in changes and changes["assignee_id"] is not None:
        user = session.get(User, changes["assignee_id"])
        org = session.get(Organization, user.org_id) if user else None
        if user is None or org is None or org.kind != OrgKind.operator or not user.is_active:
            raise Invalid("The assignee must be an active user of the operator.", field="assignee_id")
    for key, value in changes.items():
        if value is None and key != "assignee_id":
            raise Invalid("%(name)s cannot be empty.", field=key, name=key)
        old = getattr(ticket, key)
        if old == value:
            continue
        setattr(ticket, key, value)
        kind = {"assignee_id": "assignee"}.get(key, key)
        _event(session, ticket, actor, kind, old=None if old is None else str(old),
               new=None if value is None else str(value), public=key != "assignee_id", at=now,
               body=f"{old} → {value}" if key == "title" else None)
    if "priority" in changes and before.get("priority") != ticket.priority:
        clocks.retarget(session, ticket, _policy(session, ticket), now)
        refresh_for_tickets(session, [ticket.id], now, actor)
    ticket.updated_at = now
    session.flush()
    record(session, actor, "ticket.update", "ticket", ticket.id, before=before,
           after={k: getattr(ticket, k) for k in changes})
    return ticket


def transition(session: Session, actor: Actor, ticket_id: int, data: TransitionIn) -> Ticket:
    ticket = get_ticket(session, actor, ticket_id, for_update=True)
    target = data.status
    allowed = TRANSITIONS.get(ticket.status, set())
    if target not in allowed:
        raise Conflict("A ticket cannot go from %(old)s to %(new)s.", field="status", old=ticket.status, new=target)
    customer_may = {("resolved", "closed"), ("resolved", "in_progress"), ("closed", "in_progress")}
    if actor.is_customer and (ticket.status, target) not in customer_may:
        raise Forbidden("Customers may close a resolved ticket or reopen it.")
    if not actor.is_customer and not is_agent(actor):
        raise Forbidden("Only service agents move tickets.")
    now = utcnow()
    policy = _policy(session, ticket)
    old = ticket.status
    pause_statuses = set(policy.pause_statuses or [])
    ticket.status = target
    if old in pause_statuses and target not in pause_statuses:
        clocks.resume(session, ticket, policy, now)
    if target in pause_statuses and old not in pause_statuses:
        clocks.pause(session, ticket, policy, now)
    if (old in pause_statuses) != (target in pause_statuses):
        refresh_for_tickets(session, [ticket.id], now, actor)
    if target == "acknowledged":
        ticket.acknowledged_at = now
    if target == "resolved":
        ticket.resolved_at = now
        clocks.meet(session, ticket, policy, "resolution", now)
        if ticket.first_responded_at is None:
            ticket.first_responded_at = now
            clocks.meet(session, ticket, policy, "first_response", now)
    if target == "closed":
        ticket.closed_at = now
        clocks.stop_all(session, ticket, now)
    if old in ("resolved", "closed") and target == "in_progress":
        ticket.reopened_count += 1
        ticket.resolved_at = None
        ticket.closed_at = None
        clocks.restart_resolution(session, ticket, policy, now)
        _event(session, ticket, actor, "reopened", old=old, new=target, body=data.comment, at=now)
    else:
        _event(session, ticket, actor, "status", old=old, new=target, body=data.comment, at=now)
    ticket.updated_at = now
    session.flush()
    record(session, actor, "ticket.status", "ticket", ticket.id, before={"status": old}, after={"status": target})
    publish_event(session, [ticket.customer_org_id], "ticket.status",
                  {"ticket_id": ticket.id, "from": old, "to": target})
    if target == "resolved":
        _notify_customer(session, ticket, f"[{ticket.id}] 已解决 / resolved: {ticket.title}",
                         "您的工单已解决，请登录门户确认并评价服务。\n"
                         "Your ticket was resolved; please rate the service.")
    return ticket


def comment(session: Session, actor: Actor, ticket_id: int, data: CommentIn) -> TicketEvent:
    """A public reply or an internal note. The provider's first public reply meets first response;
    a customer's reply while waiting on the customer resumes the clocks."""
    ticket = get_ticket(session, actor, ticket_id, for_update=True)
    if not data.public and not actor.is_operator:
        raise Forbidden("Only the provider writes internal notes.")
    if actor.is_operator and not is_agent(actor):
        raise Forbidden("Only service agents write on tickets.")
    if ticket.status == "closed":
        raise Conflict("The ticket is closed; reopen it to reply.", field="status")
    now = utcnow()
    policy = _policy(session, ticket)
    event = _event(session, ticket, actor, "reply" if data.public else "note", body=data.body,
                   public=data.public, at=now)
    if data.public and is_agent(actor) and ticket.first_responded_at is None:
        ticket.first_responded_at = now
        clocks.meet(session, ticket, policy, "first_response", now)
        if ticket.status == "new":
            ticket.status = "acknowledged"
            ticket.acknowledged_at = now
            _event(session, ticket, actor, "status", old="new", new="acknowledged", at=now)
    if actor.is_customer and ticket.status == "waiting_customer":
        ticket.status = "in_progress"
        clocks.resume(session, ticket, policy, now)
        refresh_for_tickets(session, [ticket.id], now, actor)
        _event(session, ticket, actor, "status", old="waiting_customer", new="in_progress", at=now)
    ticket.updated_at = now
    session.flush()
    record(session, actor, "ticket.reply" if data.public else "ticket.note", "ticket", ticket.id,
           after={"event_id": event.id})
    if data.public and actor.is_operator:
        _notify_customer(session, ticket, f"[{ticket.id}] 新回复 / new reply: {ticket.title}", data.body)
    return event


def rate(session: Session, actor: Actor, ticket_id: int, data: RatingIn) -> Ticket:
    ticket = get_ticket(session, actor, ticket_id, for_update=True)
    if not actor.is_customer:
        raise Forbidden("Only the customer rates the service.")
    if ticket.status not in ("resolved", "closed"):
        raise Conflict("A ticket is rated once it is resolved.", field="status")
    now = utcnow()
    ticket.csat_score, ticket.csat_comment, ticket.csat_at = data.score, data.comment, now
    _event(session, ticket, actor, "csat", new=str(data.score), body=data.comment, at=now)
    session.flush()
    record(session, actor, "ticket.rate", "ticket", ticket.id, after={"score": data.score})
    return ticket


def record_arrival(session: Session, actor: Actor, ticket_id: int, at: datetime | None = None) -> Ticket:
    """An engineer arrived on site: meets the on-site clock (dispatch check-in calls this)."""
    ticket = get_ticket(session, actor, ticket_id, for_update=True)
    if not is_agent(actor) and not actor.has_role(Role.partner_engineer, Role.partner_admin):
        raise Forbidden("Only the provider's or a partner's staff record an on-site arrival.")
    if not ticket.on_site_required:
        raise Conflict("This ticket needs no on-site visit.", field="on_site_required")
    now = at or utcnow()
    clocks.meet(session, ticket, _policy(session, ticket), "on_site", now)
    _event(session, ticket, actor, "on_site", new="arrived", at=now)
    session.flush()
    record(session, actor, "ticket.on_site", "ticket", ticket.id)
    return ticket


def _sniff_ok(content_type: str, data: bytes) -> bool:
    magics = ALLOWED_TYPES.get(content_type)
    if magics is None:
        return False
    if not magics:  # text: UTF-8 or GB18030 (Excel in China saves CSV as GBK), and no NUL bytes
        head = data[:65536]
        for encoding in ("utf-8", "gb18030"):
            try:
                codecs.getincrementaldecoder(encoding)().decode(head, final=False)
                break
            except UnicodeDecodeError:
                continue
        else:
            return False
        return b"\x00" not in data
    return any(data.startswith(m) for m in magics)


def add_attachment(session: Session, actor: Actor, ticket_id: int, filename: str, content_type: str,
                   data: bytes, public: bool = True) -> TicketAttachment:
    """Size- and type-checked: the declared type must be allowed and the bytes must look like it."""
    ticket = get_ticket(session, actor, ticket_id, for_update=True)
    if not public and not actor.is_operator:
        raise Forbidden("Only the provider adds internal attachments.")
    if actor.is_operator and not is_agent(actor):
        raise Forbidden("Only service agents write on tickets.")
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:255]
    if not name:
        raise Invalid("The file needs a name.", field="file")
    if not data:
        raise Invalid("The file is empty.", field="file")
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise Invalid("The file is larger than %(mb)s MB.", field="file", mb=MAX_ATTACHMENT_BYTES // 1048576)
    content_type = (content_type or "").split(";")[0].strip().lower()
    if not _sniff_ok(content_type, data):
        raise Invalid("Files of type %(type)s are not accepted, or the content does not match the type.",
                      field="file", type=content_type or "?")
    if not name.lower().endswith(EXTENSIONS[content_type]):
        raise Invalid("A %(type)s file must be named %(ext)s.", field="file", type=content_type,
                      ext=" or ".join(EXTENSIONS[content_type]))
    now = utcnow()
    event = _event(session, ticket, actor, "attachment", body=name, public=public, at=now)
    attachment = TicketAttachment(
        ticket_id=ticket.id, event_id=event.id, uploaded_by_id=actor.user_id, filename=name,
        content_type=content_type, size=len(data), sha256=hashlib.sha256(data).hexdigest(), data=data,
        is_public=public,
    )
    session.add(attachment)
    session.flush()
    record(session, actor, "ticket.attach", "ticket", ticket.id, after={"filename": name, "size": len(data)})
    return attachment


def get_attachment(session: Session, actor: Actor, ticket_id: int, attachment_id: int) -> TicketAttachment:
    ticket = get_ticket(session, actor, ticket_id)
    att = session.scalar(select(TicketAttachment).where(
        TicketAttachment.id == attachment_id, TicketAttachment.ticket_id == ticket.id))
    if att is None or (not att.is_public and not actor.is_operator):
        raise NotFound("Attachment not found.", field="attachment_id")
    return att


def _notify_customer(session: Session, ticket: Ticket, subject: str, body: str) -> None:
    user = session.get(User, ticket.raised_by_id)
    if user is not None and user.is_active:
        enqueue_email(session, [user.email], subject, body, topic="ticket.notify")
