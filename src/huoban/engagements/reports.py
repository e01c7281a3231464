"""Pre-sales effort and engagement age, for the provider only.

Effort is the minutes provider and partner people recorded on consultations, whatever the engagement's
stage: an engagement still in consulting after a year is credited, not hidden until it closes. Stage age
reads the timeline: each engagement starts in inquiry at its `created` event, and every `stage` event
ends one stay and starts the next."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huoban.engagements import service
from huoban.engagements.repository import readable
from huoban.engagements.schemas import (
    EffortReport,
    EffortRow,
    StageAgeReport,
    StageAgeRow,
    StageAverage,
)
from huoban.errors import Forbidden, Invalid
from huoban.identity.actor import Actor
from huoban.models import Consultation, ConsultationParticipant, Engagement, EngagementEvent, Organization, User

STAGE_ORDER = ("inquiry", "consulting", "proposal", "bidding", "won", "lost", "delivering", "accepted", "closed")
DAY = 86400.0


def _require_operator(actor: Actor) -> None:
    if not actor.is_operator:
        raise Forbidden("Only the provider reads effort and stage reports.")


def quarter(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


@dataclass
class _Bucket:
    label: str
    minutes: int = 0
    open_minutes: int = 0
    consultations: set[int] = field(default_factory=set)
    engagements: set[int] = field(default_factory=set)


def effort_report(session: Session, actor: Actor, group_by: str, since: date | None = None,
                  until: date | None = None) -> EffortReport:
    """Effort minutes of provider and partner people, grouped by person, engagement, customer or quarter of the
    consultation date; `since` and `until` are inclusive dates."""
    _require_operator(actor)
    if since is not None and until is not None and since > until:
        raise Invalid("`since` is after `until`.", field="since")
    stmt = readable(
        select(ConsultationParticipant.user_id, ConsultationParticipant.name, ConsultationParticipant.effort_minutes,
               Consultation.id, Consultation.held_on, Engagement.id, Engagement.title, Engagement.stage,
               Engagement.customer_org_id, Organization.name, User.display_name)
        .join(Consultation, Consultation.id == ConsultationParticipant.consultation_id)
        .join(Engagement, Engagement.id == Consultation.engagement_id)
        .join(Organization, Organization.id == Engagement.customer_org_id)
        .outerjoin(User, User.id == ConsultationParticipant.user_id)
        .where(ConsultationParticipant.side.in_(service.EFFORT_SIDES)),
        actor,
    )
    if since is not None:
        stmt = stmt.where(Consultation.held_on >= since)
    if until is not None:
        stmt = stmt.where(Consultation.held_on <= until)
    buckets: dict[str, _Bucket] = {}
    for (user_id, name, minutes, consultation_id, held_on, engagement_id, title, stage, org_id, org_name,
         user_name) in session.execute(stmt):
        if group_by == "person":
            key, label = (str(user_id), user_name or name) if user_id is not None else (f"name:{name}", name)
        elif group_by == "engagement":
            key, label = str(engagement_id), title
        elif group_by == "customer":
            key, label = str(org_id), org_name
        else:
            key = label = quarter(held_on)
        bucket = buckets.setdefault(key, _Bucket(label))
        bucket.minutes += minutes
        if stage in service.PRESALES_STAGES:
            bucket.open_minutes += minutes
        bucket.consultations.add(consultation_id)
        bucket.engagements.add(engagement_id)
    order = sorted(buckets) if group_by == "quarter" else sorted(buckets, key=lambda k: (-buckets[k].minutes, k))
    rows = [EffortRow(key=k, label=buckets[k].label, minutes=buckets[k].minutes,
                      hours=round(buckets[k].minutes / 60, 2), open_minutes=buckets[k].open_minutes,
                      consultations=len(buckets[k].consultations), engagements=len(buckets[k].engagements))
            for k in order]
    return EffortReport(group_by=group_by, since=since, until=until,
                        total_minutes=sum(r.minutes for r in rows), rows=rows)


def _days(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() / DAY, 2)


def _stage_days(entries: list[tuple[datetime, str]], engagement: Engagement, now: datetime) -> dict[str, float]:
    """Days spent in each stage so far (a stage entered twice adds up), the current one counted to `now`.
    An engagement without a timeline (rows written before timelines existed) counts only its current stay."""
    if not entries:
        entries = [(engagement.stage_changed_at, engagement.stage)]
    seconds: dict[str, float] = defaultdict(float)
    for (start, stage), (end, _next) in zip(entries, [*entries[1:], (now, "")], strict=True):
        seconds[stage] += (end - start).total_seconds()
    return {s: round(seconds[s] / DAY, 2) for s in sorted(seconds, key=_stage_rank)}


def _stage_rank(stage: str) -> int:
    return STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER)


def stage_age_report(session: Session, actor: Actor) -> StageAgeReport:
    """For each open engagement (not lost or closed): days in its current stage, days spent in each stage so
    far, and its total age; and over every engagement's timeline, the average days of a completed stay in
    each stage."""
    _require_operator(actor)
    now = service.utcnow()
    engagements = list(session.scalars(readable(select(Engagement), actor).order_by(Engagement.id)))
    timeline: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    ids = [e.id for e in engagements]
    for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
        for engagement_id, at, to_value in session.execute(
            select(EngagementEvent.engagement_id, EngagementEvent.at, EngagementEvent.to_value)
            .where(EngagementEvent.engagement_id.in_(chunk), EngagementEvent.kind.in_(("created", "stage")))
            .order_by(EngagementEvent.engagement_id, EngagementEvent.at, EngagementEvent.id)
        ):
            timeline[engagement_id].append((at, to_value or "inquiry"))
    rows = [
        StageAgeRow(engagement_id=e.id, title=e.title, customer_org_id=e.customer_org_id, stage=e.stage,
                    days_in_stage=_days(e.stage_changed_at, now), age_days=_days(e.created_at, now),
                    days_by_stage=_stage_days(timeline.get(e.id, []), e, now))
        for e in engagements if e.stage not in ("lost", "closed")
    ]
    stays: dict[str, list[float]] = defaultdict(list)
    for entries in timeline.values():
        for (start, stage), (end, _next) in zip(entries, entries[1:], strict=False):
            stays[stage].append((end - start).total_seconds() / DAY)
    averages = [StageAverage(stage=s, average_days=round(sum(stays[s]) / len(stays[s]), 2), stays=len(stays[s]))
                for s in STAGE_ORDER if stays.get(s)]
    return StageAgeReport(engagements=rows, averages=averages)
