"""Engagement rules: who may open, change and move an engagement; its stages; consultations.

Stages: inquiry → consulting → proposal → bidding → won → delivering → accepted → closed, one step
forward at a time; `lost` from any stage before won (with a reason), `closed` from lost or accepted,
and the only way back is reopening lost → inquiry. Every stage change sets `stage_changed_at`,
appends an EngagementEvent (the timeline the stage-age report reads) and an audit row.

Acceptance means the customer graded everything: an engagement is accepted (and closed from accepted) only
with at least one deliverable, every one accepted, and no change order waiting for the customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from huoban.audit.service import record
from huoban.engagements.repository import get_engagement, readable
from huoban.engagements.schemas import ConsultationCreate, EngagementCreate, EngagementUpdate, StageIn
from huoban.errors import Conflict, Forbidden, Invalid, NotFound
from huoban.identity.actor import Actor
from huoban.models import (
    ChangeOrder,
    Consultation,
    ConsultationParticipant,
    Deliverable,
    Engagement,
    EngagementEvent,
    EngagementMember,
    Organization,
    OrgKind,
    Region,
    Role,
    User,
)
from huoban.models import utcnow as _utcnow

PRESALES_STAGES = ("inquiry", "consulting", "proposal", "bidding")
TRANSITIONS: dict[str, set[str]] = {
    "inquiry": {"consulting", "lost"},
    "consulting": {"proposal", "lost"},
    "proposal": {"bidding", "lost"},
    "bidding": {"won", "lost"},
    "won": {"delivering"},
    "delivering": {"accepted"},
    "accepted": {"closed"},
    "lost": {"closed", "inquiry"},
    "closed": set(),
}
SALES_ROLES = (Role.admin, Role.account_manager, Role.presales)
EFFORT_SIDES = ("provider", "partner")


def utcnow() -> datetime:
    return _utcnow()


def is_sales(actor: Actor) -> bool:
    return actor.is_operator and actor.has_role(*SALES_ROLES)


def _require_sales(actor: Actor, what: str = "change engagements") -> None:
    if not is_sales(actor):
        raise Forbidden("Only the provider's admins, account managers and presales %(what)s.", what=what)


def _event(session: Session, engagement: Engagement, actor: Actor | None, kind: str, *, old: str | None = None,
           new: str | None = None, body: str | None = None, internal: bool = False,
           at: datetime | None = None) -> EngagementEvent:
    event = EngagementEvent(engagement_id=engagement.id, at=at or utcnow(), actor_id=actor.user_id if actor else None,
                            kind=kind, from_value=None if old is None else old[:64],
                            to_value=None if new is None else new[:64], body=body, is_internal=internal)
    session.add(event)
    session.flush()
    return event


def _operator_user(session: Session, user_id: int, field: str) -> User:
    user = session.scalar(
        select(User).join(Organization, Organization.id == User.org_id)
        .where(User.id == user_id, Organization.kind == OrgKind.operator, User.is_active.is_(True))
    )
    if user is None:
        raise Invalid("Choose an active user of the provider.", field=field)
    return user


def _check_region(session: Session, code: str | None) -> None:
    if code is not None and session.get(Region, code) is None:
        raise Invalid("Unknown administrative division code %(code)s.", field="region_code", code=code)


def _check_budget(low: int | None, high: int | None) -> None:
    if low is not None and high is not None and low > high:
        raise Invalid("The budget's minimum is above its maximum.", field="budget_max_fen")


def _member_ids(session: Session, ids: list[int]) -> list[int]:
    for i, user_id in enumerate(ids):
        _operator_user(session, user_id, f"member_ids.{i}")
    return list(dict.fromkeys(ids))


def _set_members(session: Session, engagement: Engagement, ids: list[int]) -> None:
    current = {m.user_id: m for m in session.scalars(
        select(EngagementMember).where(EngagementMember.engagement_id == engagement.id))}
    for user_id, member in current.items():
        if user_id not in ids:
            session.delete(member)
    for user_id in ids:
        if user_id not in current:
            session.add(EngagementMember(engagement_id=engagement.id, user_id=user_id, role="presales"))
    session.flush()


def members(session: Session, engagement: Engagement) -> list[EngagementMember]:
    return list(session.scalars(select(EngagementMember).where(EngagementMember.engagement_id == engagement.id)
                                .order_by(EngagementMember.id)))


# Timeline entries that are the provider's own business even where older rows were not marked internal.
INTERNAL_KINDS = ("consultation", "members", "owner_id", "note")
NOTE_MAX = 4000


def _without_body(event: EngagementEvent) -> EngagementEvent:
    """A detached copy of a stage event without its reason (never added to the session, so nothing is written)."""
    return EngagementEvent(id=event.id, engagement_id=event.engagement_id, at=event.at, actor_id=event.actor_id,
                           kind=event.kind, from_value=event.from_value, to_value=event.to_value, body=None,
                           is_internal=event.is_internal)


def events(session: Session, actor: Actor, engagement: Engagement) -> list[EngagementEvent]:
    """The timeline. Customers see neither internal events (consultations, team and owner changes) nor the
    provider's reasons for stage moves (why it was lost, say)."""
    stmt = select(EngagementEvent).where(EngagementEvent.engagement_id == engagement.id)
    if actor.is_operator:
        return list(session.scalars(stmt.order_by(EngagementEvent.at, EngagementEvent.id)))
    stmt = stmt.where(EngagementEvent.is_internal.is_(False), EngagementEvent.kind.not_in(INTERNAL_KINDS))
    rows = session.scalars(stmt.order_by(EngagementEvent.at, EngagementEvent.id))
    return [_without_body(e) if e.kind == "stage" and e.body else e for e in rows]


def create_engagement(session: Session, actor: Actor, data: EngagementCreate) -> Engagement:
    """Operators in sales roles open one for a customer; a customer's user opens one for its own organization
    (owned by the customer's account manager)."""
    if actor.is_customer:
        if data.customer_org_id not in (None, actor.org_id):
            raise NotFound("Organization not found.", field="customer_org_id")
        if data.owner_id is not None:
            raise Invalid("The account manager owns an engagement a customer opens.", field="owner_id")
        if data.member_ids:
            raise Invalid("The provider chooses its presales team.", field="member_ids")
        org = session.get_one(Organization, actor.org_id)
        if org.account_manager_id is None:
            raise Invalid("Your organization has no account manager yet; please contact the provider.",
                          field="owner_id")
        owner = _operator_user(session, org.account_manager_id, "owner_id")
        member_ids: list[int] = []
    elif is_sales(actor):
        if data.customer_org_id is None:
            raise Invalid("Choose the customer this engagement is for.", field="customer_org_id")
        org_or_none = session.get(Organization, data.customer_org_id)
        if org_or_none is None or org_or_none.kind != OrgKind.customer:
            raise Invalid("Not a customer organization.", field="customer_org_id")
        org = org_or_none
        owner = _operator_user(session, data.owner_id if data.owner_id is not None else actor.user_id, "owner_id")
        member_ids = _member_ids(session, data.member_ids)
    else:
        raise Forbidden("Only the provider's sales staff and customers open engagements.")
    _check_budget(data.budget_min_fen, data.budget_max_fen)
    _check_region(session, data.region_code)
    now = utcnow()
    engagement = Engagement(
        customer_org_id=org.id, title=data.title, goal=data.goal, budget_min_fen=data.budget_min_fen,
        budget_max_fen=data.budget_max_fen, currency="CNY", industry=data.industry, region_code=data.region_code,
        owner_id=owner.id, stage="inquiry", stage_changed_at=now, created_at=now, updated_at=now,
    )
    session.add(engagement)
    session.flush()
    _set_members(session, engagement, member_ids)
    _event(session, engagement, actor, "created", new="inquiry", at=now)
    record(session, actor, "engagement.create", "engagement", engagement.id,
           after={"title": engagement.title, "customer_org_id": org.id, "owner_id": owner.id,
                  "budget_min_fen": engagement.budget_min_fen, "budget_max_fen": engagement.budget_max_fen})
    return engagement


def update_engagement(session: Session, actor: Actor, engagement_id: int, data: EngagementUpdate) -> Engagement:
    engagement = get_engagement(session, actor, engagement_id, for_update=True)
    _require_sales(actor)
    changes = data.model_dump(exclude_unset=True)
    for key in ("title", "goal", "owner_id"):
        if key in changes and changes[key] is None:
            raise Invalid("%(name)s cannot be empty.", field=key, name=key)
    if "member_ids" in changes and changes["member_ids"] is None:
        changes["member_ids"] = []
    low = changes.get("budget_min_fen", engagement.budget_min_fen)
    high = changes.get("budget_max_fen", engagement.budget_max_fen)
    _check_budget(low, high)
    if "region_code" in changes:
        _check_region(session, changes["region_code"])
    if changes.get("owner_id") is not None:
        _operator_user(session, changes["owner_id"], "owner_id")
    now = utcnow()
    before: dict[str, object] = {}
    after: dict[str, object] = {}
    if "member_ids" in changes:
        new_ids = _member_ids(session, changes.pop("member_ids"))
        old_ids = [m.user_id for m in members(session, engagement)]
        if set(new_ids) != set(old_ids):
            _set_members(session, engagement, new_ids)
            before["member_ids"], after["member_ids"] = old_ids, new_ids
            _event(session, engagement, actor, "members", body=", ".join(str(i) for i in new_ids),
                   internal=True, at=now)
    for key, value in changes.items():
        old = getattr(engagement, key)
        if old == value:
            continue
        setattr(engagement, key, value)
        before[key], after[key] = old, value
        _event(session, engagement, actor, key, old=None if old is None else str(old),
               new=None if value is None else str(value), internal=key == "owner_id", at=now,
               body=f"{old} → {value}" if key in ("title", "goal") else None)
    if after:
        engagement.updated_at = now
        session.flush()
        record(session, actor, "engagement.update", "engagement", engagement.id, before=before, after=after)
    return engagement


def _move(session: Session, actor: Actor | None, engagement: Engagement, target: str, reason: str | None) -> None:
    now = utcnow()
    old = engagement.stage
    engagement.stage = target
    engagement.stage_changed_at = now
    engagement.updated_at = now
    if target == "won":
        engagement.won_at = now
    if target == "lost":
        engagement.lost_reason = reason
    elif old == "lost" and target == "inquiry":
        engagement.lost_reason = None
    _event(session, engagement, actor, "stage", old=old, new=target, body=reason, at=now)
    session.flush()
    record(session, actor, "engagement.stage", "engagement", engagement.id, before={"stage": old},
           after={"stage": target, "reason": reason})


def change_stage(session: Session, actor: Actor, engagement_id: int, data: StageIn) -> Engagement:
    """Move an engagement along its stages (409 naming `stage` for a move the path does not allow)."""
    engagement = get_engagement(session, actor, engagement_id, for_update=True)
    _require_sales(actor, "move engagements")
    target = data.stage
    if target not in TRANSITIONS.get(engagement.stage, set()):
        raise Conflict("An engagement cannot go from %(old)s to %(new)s.", field="stage", old=engagement.stage,
                       new=target)
    reason = data.reason or None
    if target == "lost" and reason is None:
        raise Invalid("Say why the engagement was lost.", field="reason")
    if target == "accepted" or (target == "closed" and engagement.stage == "accepted"):
        blocker = acceptance_blocker(session, engagement)
        if blocker is not None:
            raise blocker
    _move(session, actor, engagement, target, reason)
    return engagement


def acceptance_blocker(session: Session, engagement: Engagement) -> Conflict | None:
    """Why the engagement cannot be (or stay, on closing) accepted, naming `stage`; None when it can: at least
    one deliverable, every one accepted by the customer, and no change order still waiting for its decision."""
    total, open_ = session.execute(
        select(func.count(), func.coalesce(func.sum(case((Deliverable.status != "accepted", 1), else_=0)), 0))
        .select_from(Deliverable).where(Deliverable.engagement_id == engagement.id)).one()
    if not total:
        return Conflict("There are no deliverables for the customer to accept yet.", field="stage")
    if open_:
        return Conflict("%(n)s deliverables are not accepted yet.", field="stage", n=open_)
    pending = session.scalar(select(ChangeOrder.id).where(ChangeOrder.engagement_id == engagement.id,
                                                          ChangeOrder.status == "pending").limit(1))
    if pending is not None:
        return Conflict("Change order %(id)s is still waiting for the customer.", field="stage", id=pending)
    return None


def mark_accepted(session: Session, actor: Actor | None, engagement: Engagement) -> Engagement:
    """Called when the customer has accepted every deliverable: delivering → accepted, with a timeline event.
    Already accepted (or closed) is left as is; any other stage, or an engagement that `acceptance_blocker`
    holds back, is a 409 naming `stage`. Checks no role: the caller (the deliverables service) has already
    decided the customer may grade."""
    if engagement.stage in ("accepted", "closed"):
        return engagement
    if engagement.stage != "delivering":
        raise Conflict("An engagement cannot go from %(old)s to %(new)s.", field="stage", old=engagement.stage,
                       new="accepted")
    blocker = acceptance_blocker(session, engagement)
    if blocker is not None:
        raise blocker
    _move(session, actor, engagement, "accepted", "All deliverables accepted.")
    return engagement


def add_note(session: Session, actor: Actor, engagement_id: int, body: str) -> EngagementEvent:
    """An internal note on the timeline (kind `note`): the provider's own remark, never shown to the customer.
    Written by those who may change the engagement; `body` is stripped and 1 to 4000 characters."""
    engagement = get_engagement(session, actor, engagement_id, for_update=True)
    _require_sales(actor, "write internal notes")
    text = (body or "").strip()
    if not text:
        raise Invalid("Write the note.", field="body")
    if len(text) > NOTE_MAX:
        raise Invalid("A note is at most %(n)s characters.", field="body", n=NOTE_MAX)
    event = _event(session, engagement, actor, "note", body=text, internal=True)
    record(session, actor, "engagement.note", "engagement_event", event.id,
           after={"engagement_id": engagement.id, "body": text})
    return event


# --- lists -------------------------------------------------------------------------------------------


@dataclass
class EngagementFilter:
    stage: list[str] | None = None
    customer_org_id: int | None = None
    owner_id: int | None = None
    q: str | None = None


def list_engagements(session: Session, actor: Actor, f: EngagementFilter, *, limit: int = 50, offset: int = 0
                     ) -> tuple[list[Engagement], int]:
    stmt = readable(select(Engagement), actor)
    if f.stage:
        stmt = stmt.where(Engagement.stage.in_(f.stage))
    if f.customer_org_id is not None:
        stmt = stmt.where(Engagement.customer_org_id == f.customer_org_id)
    if f.owner_id is not None:
        stmt = stmt.where(Engagement.owner_id == f.owner_id)
    if f.q:
        stmt = stmt.where(Engagement.title.contains(f.q, autoescape=True)
                          | Engagement.goal.contains(f.q, autoescape=True))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Engagement.id.desc()).limit(limit).offset(offset))
    return list(rows), total


# --- consultations -----------------------------------------------------------------------------------


def _participant_user(session: Session, engagement: Engagement, user_id: int, side: str, index: int) -> User:
    """A participant with an account belongs to the provider, a partner or this engagement's customer, and sits
    on the side of its organization."""
    row = session.execute(select(User, Organization).join(Organization, Organization.id == User.org_id)
                          .where(User.id == user_id)).one_or_none()
    if row is None:
        raise Invalid("Unknown user.", field=f"participants.{index}.user_id")
    user, org = row
    if org.kind == OrgKind.operator:
        actual = "provider"
    elif org.kind == OrgKind.partner:
        actual = "partner"
    elif org.id == engagement.customer_org_id:
        actual = "customer"
    else:
        raise Invalid("Choose a user of the provider, a partner or this engagement's customer.",
                      field=f"participants.{index}.user_id")
    if side != actual:
        raise Invalid("The side does not match the person's organization.", field=f"participants.{index}.side")
    return user


def add_consultation(session: Session, actor: Actor, engagement_id: int, data: ConsultationCreate) -> Consultation:
    """A meeting, call, site visit or workshop; only provider and partner people carry effort."""
    engagement = get_engagement(session, actor, engagement_id, for_update=True)
    _require_sales(actor, "record consultations")
    if engagement.stage == "closed":
        raise Conflict("The engagement is closed.", field="stage")
    people: list[ConsultationParticipant] = []
    for i, p in enumerate(data.participants):
        if p.side not in EFFORT_SIDES and p.effort_minutes:
            raise Invalid("Only provider and partner people carry effort.",
                          field=f"participants.{i}.effort_minutes")
        name = p.name
        if p.user_id is not None:
            user = _participant_user(session, engagement, p.user_id, p.side, i)
            name = name or user.display_name
        if not name:
            raise Invalid("Name the participant or choose a user.", field=f"participants.{i}.name")
        people.append(ConsultationParticipant(user_id=p.user_id, name=name, side=p.side,
                                              effort_minutes=p.effort_minutes))
    now = utcnow()
    consultation = Consultation(engagement_id=engagement.id, kind=data.kind, held_on=data.held_on, title=data.title,
                                minutes=data.minutes, follow_ups=data.follow_ups, created_by_id=actor.user_id,
                                created_at=now)
    session.add(consultation)
    session.flush()
    for person in people:
        person.consultation_id = consultation.id
        session.add(person)
    engagement.updated_at = now
    session.flush()
    _event(session, engagement, actor, "consultation", new=data.kind, body=data.title, internal=True, at=now)
    record(session, actor, "engagement.consultation", "consultation", consultation.id,
           after={"engagement_id": engagement.id, "kind": data.kind, "held_on": data.held_on.isoformat(),
                  "effort_minutes": sum(p.effort_minutes for p in people)})
    return consultation


def participants(session: Session, consultation_ids: list[int]) -> dict[int, list[ConsultationParticipant]]:
    out: dict[int, list[ConsultationParticipant]] = {i: [] for i in consultation_ids}
    if consultation_ids:
        for p in session.scalars(select(ConsultationParticipant).where(
                ConsultationParticipant.consultation_id.in_(consultation_ids)).order_by(ConsultationParticipant.id)):
            out[p.consultation_id].append(p)
    return out


def _consultations_readable(actor: Actor) -> None:
    """Consultations (minutes, follow-ups, participants, effort) are the provider's internal record."""
    if not actor.is_operator:
        raise NotFound("Consultation not found.", field="consultation_id")


def list_consultations(session: Session, actor: Actor, engagement_id: int, *, limit: int = 50, offset: int = 0
                       ) -> tuple[list[Consultation], int]:
    engagement = get_engagement(session, actor, engagement_id)
    _consultations_readable(actor)
    stmt = select(Consultation).where(Consultation.engagement_id == engagement.id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Consultation.held_on.desc(), Consultation.id.desc())
                           .limit(limit).offset(offset))
    return list(rows), total


def get_consultation(session: Session, actor: Actor, engagement_id: int, consultation_id: int) -> Consultation:
    engagement = get_engagement(session, actor, engagement_id)
    _consultations_readable(actor)
    consultation = session.scalar(select(Consultation).where(
        Consultation.id == consultation_id, Consultation.engagement_id == engagement.id))
    if consultation is None:
        raise NotFound("Consultation not found.", field="consultation_id")
    return consultation
