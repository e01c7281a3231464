"""Requirement versions the customer owns, their sign-off, change orders after winning, and graded deliverables.

Invariants:
- Versions and their items are immutable: every edit is a new version n+1 holding the full item set.
- Status of a version: submitted → signed | returned (decided by the customer_admin; only the latest
  version can be decided). After the engagement is won and a version is signed, a change arrives as
  a change order whose version has status "proposed-change"; approval signs it ("signed"), rejection
  marks it "rejected-change". The version in force is the latest signed one; older signed versions
  stay signed but are superseded.
- Change orders are raised and decided only while the engagement is won or delivering. Acceptance settles
  the scope: an engagement is not accepted while a change order waits for the customer (the stage move is
  refused, as a ServiceNow change cannot close with open tasks), and an accepted or closed one takes no
  new change order; further work is a new engagement.
- Deliverables: pending → submitted → accepted | rejected (rejected ones may be submitted again); they are
  recorded, submitted and graded only while the engagement is won or delivering. When every deliverable of
  a delivering engagement is accepted and no change order is pending, the engagement moves to accepted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from huoban.audit.service import record
from huoban.engagements import service
from huoban.engagements.diff import diff_items
from huoban.engagements.repository import get_engagement
from huoban.engagements.requirements_schemas import (
    ChangeOrderCreate,
    DeliverableCreate,
    GradeIn,
    ItemIn,
    ScoreRow,
)
from huoban.errors import Conflict, Forbidden, Invalid, NotFound
from huoban.identity.actor import Actor
from huoban.models import (
    ChangeOrder,
    Deliverable,
    Engagement,
    EngagementEvent,
    Organization,
    OrgKind,
    RequirementItem,
    RequirementVersion,
    Role,
    User,
    utcnow,
)

OPERATOR_ROLES = (Role.admin, Role.account_manager, Role.presales)
WON_STAGES = ("won", "delivering", "accepted")
DELIVERY_STAGES = ("won", "delivering")  # change orders and deliverables; accepted settles the scope
PROPOSED_CHANGE = "proposed-change"
SIGNED_AFTER_WIN = "The engagement is won and its requirements are signed: propose a change order instead."
REJECTED_CHANGE = "rejected-change"


def is_operator_staff(actor: Actor) -> bool:
    return actor.is_operator and actor.has_role(*OPERATOR_ROLES)


def is_customer_admin(actor: Actor, engagement: Engagement) -> bool:
    return actor.is_customer and actor.org_id == engagement.customer_org_id and actor.has_role(Role.customer_admin)


def _event(session: Session, engagement: Engagement, actor: Actor, kind: str, *, old: str | None = None,
           new: str | None = None, body: str | None = None) -> None:
    session.add(EngagementEvent(engagement_id=engagement.id, at=utcnow(), actor_id=actor.user_id, kind=kind,
                                from_value=old, to_value=new, body=body, is_internal=False))


# --- reading ---------------------------------------------------------------------------------------------


def versions(session: Session, engagement: Engagement) -> list[RequirementVersion]:
    return list(session.scalars(select(RequirementVersion).where(RequirementVersion.engagement_id == engagement.id)
                                .order_by(RequirementVersion.number)))


def current_version(session: Session, engagement: Engagement) -> RequirementVersion | None:
    """The version in force: the latest signed one."""
    return session.scalar(
        select(RequirementVersion)
        .where(RequirementVersion.engagement_id == engagement.id, RequirementVersion.status == "signed")
        .order_by(RequirementVersion.number.desc()).limit(1)
    )


def latest_version(session: Session, engagement: Engagement) -> RequirementVersion | None:
    return session.scalar(select(RequirementVersion).where(RequirementVersion.engagement_id == engagement.id)
                          .order_by(RequirementVersion.number.desc()).limit(1))


def get_version(session: Session, engagement: Engagement, number: int, *, for_update: bool = False
                ) -> RequirementVersion:
    stmt = select(RequirementVersion).where(RequirementVersion.engagement_id == engagement.id,
                                            RequirementVersion.number == number)
    if for_update:
        stmt = stmt.with_for_update()
    version = session.scalar(stmt)
    if version is None:
        raise NotFound("Requirement version not found.", field="version")
    return version


def items(session: Session, version: RequirementVersion) -> list[RequirementItem]:
    return list(session.scalars(select(RequirementItem).where(RequirementItem.version_id == version.id)
                                .order_by(RequirementItem.position)))


def item_dicts(session: Session, version: RequirementVersion) -> list[dict[str, Any]]:
    return [{"key": i.key, "title": i.title, "description": i.description,
             "acceptance_criteria": i.acceptance_criteria, "priority": i.priority, "owner_id": i.owner_id}
            for i in items(session, version)]


def diff(session: Session, engagement: Engagement, from_number: int, to_number: int) -> dict[str, Any]:
    old = get_version(session, engagement, from_number)
    new = get_version(session, engagement, to_number)
    return {"from_number": old.number, "to_number": new.number,
            **diff_items(item_dicts(session, old), item_dicts(session, new))}


# --- proposing versions ----------------------------------------------------------------------------------


def _check_items(session: Session, engagement: Engagement, data: Sequence[ItemIn]) -> None:
    seen: set[str] = set()
    allowed_orgs: set[int] | None = None
    for index, item in enumerate(data):
        if item.key is not None:
            if item.key in seen:
                raise Invalid("The key %(key)s appears twice.", field=f"items.{index}.key", key=item.key)
            seen.add(item.key)
        if item.owner_id is not None:
            if allowed_orgs is None:
                allowed_orgs = _owner_orgs(session, engagement)
            owner = session.get(User, item.owner_id)
            if owner is None or not owner.is_active or owner.org_id not in allowed_orgs:
                raise Invalid("The owner must be an active user of the provider, a partner or the customer.",
                              field=f"items.{index}.owner_id")


def _owner_orgs(session: Session, engagement: Engagement) -> set[int]:
    """Whose people may own a requirement item: the provider, partners and this engagement's customer."""
    others = session.scalars(select(Organization.id).where(Organization.kind.in_((OrgKind.operator,
                                                                                  OrgKind.partner))))
    return {engagement.customer_org_id, *others}


def owner_directory(session: Session, engagement: Engagement) -> dict[str, int]:
    """Possible item owners by lower-case e-mail (how a spreadsheet names them)."""
    orgs = _owner_orgs(session, engagement)
    return {email.lower(): user_id for user_id, email in session.execute(
        select(User.id, User.email).where(User.org_id.in_(orgs), User.is_active.is_(True)))}


def owner_emails(session: Session, version_items: Sequence[dict[str, Any]]) -> dict[int, str]:
    """The e-mail of each item owner, for the export."""
    ids = {i["owner_id"] for i in version_items if i.get("owner_id") is not None}
    if not ids:
        return {}
    return {user_id: email for user_id, email in session.execute(select(User.id, User.email).where(User.id.in_(ids)))}


def _write_version(session: Session, actor: Actor, engagement: Engagement, data: Sequence[ItemIn],
                   note: str | None, status: str) -> RequirementVersion:
    _check_items(session, engagement, data)
    previous = latest_version(session, engagement)
    based_on = current_version(session, engagement) or previous
    used = session.scalars(select(RequirementItem.key).join(RequirementVersion)
                           .where(RequirementVersion.engagement_id == engagement.id)).all()
    given = [i.key for i in data if i.key]
    next_n = max((int(k.split("-")[1]) for k in [*used, *given]), default=0) + 1
    version = RequirementVersion(engagement_id=engagement.id, number=(previous.number if previous else 0) + 1,
                                 based_on_id=based_on.id if based_on else None, created_by_id=actor.user_id,
                                 note=note, status=status, created_at=utcnow())
    session.add(version)
    session.flush()
    for position, item in enumerate(data, start=1):
        key = item.key
        if key is None:
            key, next_n = f"R-{next_n}", next_n + 1
        session.add(RequirementItem(version_id=version.id, key=key, position=position, title=item.title,
                                    description=item.description, acceptance_criteria=item.acceptance_criteria,
                                    priority=item.priority, owner_id=item.owner_id))
    session.flush()
    return version


def may_propose(actor: Actor, engagement: Engagement) -> None:
    if not (is_operator_staff(actor) or is_customer_admin(actor, engagement)):
        raise Forbidden("Only the account team or the customer's administrator proposes requirements.")


def propose_version(session: Session, actor: Actor, engagement_id: int, data: Sequence[ItemIn],
                    note: str | None) -> RequirementVersion:
    """A new submitted version with the full item set. Once the engagement is won and a version is
    signed, changes go through change orders instead."""
    engagement = get_engagement(session, actor, engagement_id, for_update=True)
    may_propose(actor, engagement)
    if engagement.stage in WON_STAGES and current_version(session, engagement) is not None:
        raise _signed_scope(engagement)
    if engagement.stage in ("lost", "closed"):
        raise Conflict("The engagement is %(stage)s.", field="stage", stage=engagement.stage)
    version = _write_version(session, actor, engagement, data, note, "submitted")
    _event(session, engagement, actor, "requirements.proposed", new=f"v{version.number}", body=note)
    record(session, actor, "requirements.propose", "requirement_version", version.id,
           after={"engagement_id": engagement.id, "number": version.number, "items": len(data)})
    return version


def _signed_scope(engagement: Engagement) -> Conflict:
    """The 409 for changing a won engagement's signed requirements outside a change order."""
    if engagement.stage in DELIVERY_STAGES:
        return Conflict(SIGNED_AFTER_WIN, field="stage")
    return Conflict("The engagement is %(stage)s: its signed requirements are final.", field="stage",
                    stage=engagement.stage)


def _decide(session: Session, actor: Actor, engagement_id: int, number: int, status: str,
            comment: str | None) -> RequirementVersion:
    engagement = get_engagement(session, actor, engagement_id, for_update=True)
    if not is_customer_admin(actor, engagement):
        raise Forbidden("Only the customer's administrator signs off or returns requirements.")
    if engagement.stage in ("lost", "closed"):
        raise Conflict("The engagement is %(stage)s.", field="stage", stage=engagement.stage)
    version = get_version(session, engagement, number, for_update=True)
    latest = latest_version(session, engagement)
    if version.status != "submitted" or latest is None or latest.id != version.id:
        raise Conflict("Only the latest submitted version can be signed off or returned.", field="version")
    if status == "signed" and engagement.stage in WON_STAGES and current_version(session, engagement) is not None:
        # Submitted before the win: signing it now would change the signed scope without a change order.
        raise _signed_scope(engagement)
    version.status, version.decided_by_id, version.decided_at = status, actor.user_id, utcnow()
    version.decision_comment = comment
    kind = "requirements.signed" if status == "signed" else "requirements.returned"
    _event(session, engagement, actor, kind, old="submitted", new=f"v{version.number}", body=comment)
    record(session, actor, kind.replace("signed", "sign").replace("returned", "return"), "requirement_version",
           version.id, before={"status": "submitted"}, after={"status": status, "comment": comment})
    session.flush()
    return version


def sign(session: Session, actor: Actor, engagement_id: int, number: int, comment: str | None) -> RequirementVersion:
    return _decide(session, actor, engagement_id, number, "signed", comment)


def return_version(session: Session, actor: Actor, engagement_id: int, number: int,
                   comment: str) -> RequirementVersion:
    return _decide(session, actor, engagement_id, number, "returned", comment)


# --- change orders ---------------------------------------------------------------------------------------


def change_orders(session: Session, engagement: Engagement) -> list[ChangeOrder]:
    return list(session.scalars(select(ChangeOrder).where(ChangeOrder.engagement_id == engagement.id)
                                .order_by(ChangeOrder.id)))


def propose_change(session: Session, actor: Actor, engagement_id: int, data: ChangeOrderCreate) -> ChangeOrder:
    """A changed item set on top of the signed version of a won or delivering engagement; it takes effect only
    on approval. An accepted engagement's scope is settled: more work is a new engagement."""
    engagement = get_engagement(session, actor, engagement_id, for_update=True)
    may_propose(actor, engagement)
    if engagement.stage in ("accepted", "closed"):
        raise Conflict("The engagement is %(stage)s: its scope is settled and takes no more change orders.",
                       field="stage", stage=engagement.stage)
    if engagement.stage not in DELIVERY_STAGES:
        raise Conflict("Change orders start once the engagement is won; until then propose a new version.",
                       field="stage")
    signed = current_version(session, engagement)
    if signed is None:
        raise Conflict("There is no signed version to change yet.", field="version")
    pending = session.scalar(select(ChangeOrder.id).where(ChangeOrder.engagement_id == engagement.id,
                                                          ChangeOrder.status == "pending"))
    if pending is not None:
        raise Conflict("Change order %(id)s is still waiting for the customer.", field="change_order", id=pending)
    version = _write_version(session, actor, engagement, data.items, data.note, PROPOSED_CHANGE)
    order = ChangeOrder(engagement_id=engagement.id, from_version_id=signed.id, to_version_id=version.id,
                        reason=data.reason, effort_hours=data.effort_hours, price_impact_fen=data.price_impact_fen,
                        status="pending", requested_by_id=actor.user_id, created_at=utcnow())
    session.add(order)
    session.flush()
    _event(session, engagement, actor, "change_order.requested", old=f"v{signed.number}", new=f"v{version.number}",
           body=data.reason)
    record(session, actor, "change_order.request", "change_order", order.id,
           after={"engagement_id": engagement.id, "to_version": version.number, "effort_hours": data.effort_hours,
                  "price_impact_fen": data.price_impact_fen})
    return order


def decide_change(session: Session, actor: Actor, engagement_id: int, order_id: int, approve: bool,
                  comment: str | None) -> ChangeOrder:
    """The customer_admin approves (the change's version becomes the signed current one) or rejects it, while
    the engagement is won or delivering (no pending order outlives that: acceptance waits for the decision)."""
    engagement = get_engagement(session, actor, engagement_id, for_update=True)
    order = session.scalar(select(ChangeOrder).where(ChangeOrder.id == order_id,
                                                     ChangeOrder.engagement_id == engagement.id).with_for_update())
    if order is None:
        raise NotFound("Change order not found.", field="change_order_id")
    if not is_customer_admin(actor, engagement):
        raise Forbidden("Only the customer's administrator approves or rejects change orders.")
    if engagement.stage not in DELIVERY_STAGES:
        raise Conflict("The engagement is %(stage)s.", field="stage", stage=engagement.stage)
    if order.status != "pending":
        raise Conflict("This change order is already %(status)s.", field="status", status=order.status)
    now = utcnow()
    status = "approved" if approve else "rejected"
    order.status, order.decided_by_id, order.decided_at, order.decision_comment = status, actor.user_id, now, comment
    version = session.get_one(RequirementVersion, order.to_version_id)
    version.status = "signed" if approve else REJECTED_CHANGE
    version.decided_by_id, version.decided_at, version.decision_comment = actor.user_id, now, comment
    _event(session, engagement, actor, f"change_order.{status}", new=f"v{version.number}", body=comment)
    record(session, actor, f"change_order.{'approve' if approve else 'reject'}", "change_order", order.id,
           before={"status": "pending"}, after={"status": status, "comment": comment})
    session.flush()
    return order


# --- deliverables ----------------------------------------------------------------------------------------


def deliverables(session: Session, engagement: Engagement) -> list[Deliverable]:
    return list(session.scalars(select(Deliverable).where(Deliverable.engagement_id == engagement.id)
                                .order_by(Deliverable.id)))


def _get_deliverable(session: Session, engagement: Engagement, deliverable_id: int) -> Deliverable:
    row = session.scalar(select(Deliverable).where(Deliverable.id == deliverable_id,
                                                   Deliverable.engagement_id == engagement.id).with_for_update())
    if row is None:
        raise NotFound("Deliverable not found.", field="deliverable_id")
    return row


def _require_delivery(engagement: Engagement) -> None:
    """Deliverables are recorded, submitted and graded between winning and acceptance: an accepted engagement
    has had every deliverable accepted, and none may appear or change after that."""
    if engagement.stage not in DELIVERY_STAGES:
        if engagement.stage in ("accepted", "closed"):
            raise Conflict("The engagement is %(stage)s.", field="stage", stage=engagement.stage)
        raise Conflict("Deliverables are recorded once the engagement is won.", field="stage")


def create_deliverable(session: Session, actor: Actor, engagement_id: int, data: DeliverableCreate) -> Deliverable:
    engagement = get_engagement(session, actor, engagement_id, for_update=True)
    if not is_operator_staff(actor):
        raise Forbidden("Only the account team records deliverables.")
    _require_delivery(engagement)
    signed = current_version(session, engagement)
    if signed is None:
        raise Conflict("Deliverables refer to a signed requirement version; none is signed yet.", field="version")
    keys = {i.key for i in items(session, signed)}
    unknown = [k for k in data.item_keys if k not in keys]
    if unknown:
        raise Invalid("Not in the signed requirements: %(keys)s.", field="item_keys", keys=", ".join(unknown))
    org = session.get(Organization, data.delivered_by_org_id)
    if org is None or not (org.id == actor.org_id or org.kind == OrgKind.partner):
        raise Invalid("Delivered by the provider itself or a partner.", field="delivered_by_org_id")
    row = Deliverable(engagement_id=engagement.id, title=data.title, description=data.description,
                      item_keys=list(dict.fromkeys(data.item_keys)), delivered_by_org_id=org.id, status="pending",
                      created_at=utcnow())
    session.add(row)
    session.flush()
    record(session, actor, "deliverable.create", "deliverable", row.id,
           after={"engagement_id": engagement.id, "title": row.title, "item_keys": row.item_keys})
    return row


def submit_deliverable(session: Session, actor: Actor, engagement_id: int, deliverable_id: int) -> Deliverable:
    engagement = get_engagement(session, actor, engagement_id, for_update=True)
    row = _get_deliverable(session, engagement, deliverable_id)
    if not is_operator_staff(actor):
        raise Forbidden("Only the account team submits deliverables.")
    _require_delivery(engagement)
    if row.status not in ("pending", "rejected"):
        raise Conflict("This deliverable is already %(status)s.", field="status", status=row.status)
    before = row.status
    row.status, row.submitted_at = "submitted", utcnow()
    row.score = row.comment = row.decided_by_id = row.decided_at = None
    _event(session, engagement, actor, "deliverable.submitted", old=before, new=str(row.id), body=row.title)
    record(session, actor, "deliverable.submit", "deliverable", row.id, before={"status": before},
           after={"status": "submitted"})
    session.flush()
    return row


def grade_deliverable(session: Session, actor: Actor, engagement_id: int, deliverable_id: int, accept: bool,
                      data: GradeIn) -> Deliverable:
    """The customer accepts or rejects a submitted deliverable with a score. The last acceptance moves a
    delivering engagement to accepted, unless a change order still waits (then the account team moves it
    once the customer has decided)."""
    engagement = get_engagement(session, actor, engagement_id, for_update=True)
    row = _get_deliverable(session, engagement, deliverable_id)
    if not (actor.is_customer and actor.has_role(Role.customer_admin, Role.customer_member)):
        raise Forbidden("Only the customer grades deliverables.")
    _require_delivery(engagement)
    if row.status != "submitted":
        raise Conflict("Only a submitted deliverable can be graded; this one is %(status)s.", field="status",
                       status=row.status)
    if not accept and not data.comment:
        raise Invalid("Say why the deliverable is rejected.", field="comment")
    status = "accepted" if accept else "rejected"
    row.status, row.score, row.comment = status, data.score, data.comment
    row.decided_by_id, row.decided_at = actor.user_id, utcnow()
    _event(session, engagement, actor, f"deliverable.{status}", old="submitted", new=str(row.id), body=data.comment)
    record(session, actor, f"deliverable.{'accept' if accept else 'reject'}", "deliverable", row.id,
           before={"status": "submitted"}, after={"status": status, "score": data.score})
    session.flush()
    if accept and engagement.stage == "delivering" and service.acceptance_blocker(session, engagement) is None:
        service.mark_accepted(session, actor, engagement)
    return row


def scores(session: Session, actor: Actor, by: str) -> list[ScoreRow]:
    """Average scores and counts of graded deliverables by engagement, delivering organization or customer."""
    if not actor.is_operator:
        raise Forbidden("Score roll-ups are for the operator.")
    group: Any = {"engagement": Deliverable.engagement_id, "provider": Deliverable.delivered_by_org_id,
                  "customer": Engagement.customer_org_id}[by]
    name: Any = Engagement.title if by == "engagement" else Organization.name
    stmt = (select(group, name, func.avg(Deliverable.score), func.count(),
                   func.sum(case((Deliverable.status == "accepted", 1), else_=0)),
                   func.sum(case((Deliverable.status == "rejected", 1), else_=0)))
            .select_from(Deliverable).join(Engagement, Engagement.id == Deliverable.engagement_id))
    if by != "engagement":
        stmt = stmt.join(Organization, Organization.id == group)
    stmt = stmt.where(Deliverable.status.in_(("accepted", "rejected"))).group_by(group, name).order_by(group)
    return [ScoreRow(id=row[0], name=row[1], average_score=round(float(row[2]), 2) if row[2] is not None else None,
                     graded=row[3], accepted=int(row[4] or 0), rejected=int(row[5] or 0))
            for row in session.execute(stmt)]

