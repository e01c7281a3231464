"""Rules for working calendars and SLA policies: who may read and change them, what is valid, and that
every edit reaches the open clocks it moves in the same transaction. Never commits.

Operators read everything; the operator's admin and system_admin change it. A customer user may read
the policy that applies to it (its own default or the global default) and nothing else here; partners
nothing (404, as for any row outside `readable_*`). The CLI passes `actor=None` and may do everything.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, false, func, or_, select, update
from sqlalchemy.orm import Session

from huoban.audit.service import record
from huoban.errors import Conflict, Forbidden, Invalid, NotFound
from huoban.identity.actor import Actor
from huoban.models import Calendar, Organization, OrgKind, Role, SlaPolicy, utcnow
from huoban.sla.calendar import CalendarError, WorkCalendar
from huoban.sla.recompute import recompute_calendar, recompute_policy
from huoban.sla.schemas import CalendarCreate, CalendarUpdate, PolicyCreate, PolicyUpdate, YearImport

WRITERS = (Role.admin, Role.system_admin)
PLURAL = {"Calendar": "calendars", "Policy": "SLA policies"}
POLICY_FIELDS = ("name", "calendar_id", "customer_org_id", "is_default", "targets", "pause_statuses",
                 "escalations", "is_active")

# --- scoping: the one place per table ------------------------------------------------------------------------


def readable_calendars(stmt: Select, actor: Actor) -> Select:
    """Operators see every calendar; customers and partners none."""
    return stmt if actor.is_operator else stmt.where(false())


def readable_policies(stmt: Select, actor: Actor) -> Select:
    """Operators see every policy; a customer user the active default that may apply to it (its own
    organization's or the global one); partners none."""
    if actor.is_operator:
        return stmt
    if actor.is_customer:
        return stmt.where(SlaPolicy.is_default.is_(True), SlaPolicy.is_active.is_(True),
                          or_(SlaPolicy.customer_org_id == actor.org_id, SlaPolicy.customer_org_id.is_(None)))
    return stmt.where(false())


def _may_write(actor: Actor | None, what: str, *, seen: bool = False) -> None:
    """Admins write; others who can see the row get 403, those who cannot (creating, say) 404."""
    if actor is None:
        return
    if not actor.is_operator and not seen:
        raise NotFound(f"{what} not found.")
    if not actor.is_operator or not actor.has_role(*WRITERS):
        raise Forbidden(f"Only the operator's administrators change {PLURAL[what]}.")


def _may_list(actor: Actor, what: str) -> None:
    if not actor.is_operator:
        raise NotFound(f"{what} not found.")


# --- calendars -------------------------------------------------------------------------------------------------


def get_calendar(session: Session, actor: Actor | None, calendar_id: int, *, for_update: bool = False) -> Calendar:
    stmt = select(Calendar).where(Calendar.id == calendar_id)
    if actor is not None:
        stmt = readable_calendars(stmt, actor)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None:
        raise NotFound("Calendar not found.", field="calendar_id")
    return row


def find_calendar(session: Session, name: str) -> Calendar | None:
    return session.scalar(select(Calendar).where(Calendar.name == name.strip()))


def list_calendars(session: Session, actor: Actor, limit: int = 50, offset: int = 0) -> tuple[list[Calendar], int]:
    _may_list(actor, "Calendar")
    stmt = readable_calendars(select(Calendar), actor)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    return list(session.scalars(stmt.order_by(Calendar.id).limit(limit).offset(offset))), total


def summary(definition: dict[str, Any]) -> dict[str, Any]:
    """What a person (and the audit log) needs to tell two versions of a calendar apart."""
    holidays = definition.get("holidays") or []
    overrides = definition.get("overrides") or {}
    years = sorted({int(day[:4]) for day in [*holidays, *overrides]})
    return {"timezone": definition.get("timezone"), "holidays": len(holidays), "overrides": len(overrides),
            "years": years}


def parse_definition(definition: Any, prefix: str = "definition") -> WorkCalendar:
    """The calendar, or Invalid naming the field at fault, e.g. `definition.week.mon[1]`."""
    try:
        return WorkCalendar.from_dict(definition)
    except CalendarError as exc:
        raise invalid(exc, prefix) from None


def invalid(exc: CalendarError, prefix: str = "") -> Invalid:
    text = " ".join(str(exc).split())
    place, sep, reason = text.partition(": ")
    if not sep or " " in place:
        place, reason = "calendar", text
    # "calendar: ..." is about the whole definition; any other place is a path inside it
    field = ".".join(p for p in (prefix, "" if place == "calendar" else place) if p) or "calendar"
    return Invalid(f"{field}: {reason}", field=field)


def create_calendar(session: Session, actor: Actor | None, data: CalendarCreate) -> Calendar:
    _may_write(actor, "Calendar")
    definition = parse_definition(data.definition).to_dict()
    if find_calendar(session, data.name) is not None:
        raise Conflict("A calendar named %(name)s already exists.", field="name", name=data.name)
    row = Calendar(name=data.name, description=data.description, definition=definition, builtin=False, version=1)
    session.add(row)
    session.flush()
    record(session, actor, "calendar.create", "calendar", row.id, actor_label="cli",
           after={"name": row.name, "version": row.version, **summary(definition)})
    return row if actor is None else get_calendar(session, actor, row.id)


def update_calendar(session: Session, actor: Actor | None, calendar_id: int, data: CalendarUpdate
                    ) -> tuple[Calendar, int]:
    """Change the description and/or the definition (built-ins too); returns the open clocks recomputed."""
    row = get_calendar(session, actor, calendar_id, for_update=True)
    _may_write(actor, "Calendar", seen=True)
    changes = data.model_dump(exclude_unset=True)
    if "definition" in changes and changes["definition"] is None:
        raise Invalid("definition cannot be empty.", field="definition")
    definition = parse_definition(changes["definition"]).to_dict() if "definition" in changes else row.definition
    before = {"description": row.description, "version": row.version, **summary(row.definition)}
    if "description" in changes:
        row.description = changes["description"]
    recomputed = _apply(session, row, definition)
    record(session, actor, "calendar.update", "calendar", row.id, before=before, actor_label="cli",
           after={"description": row.description, "version": row.version, **summary(row.definition),
                  "recomputed_clocks": recomputed})
    return (row if actor is None else get_calendar(session, actor, row.id)), recomputed


def import_year(session: Session, actor: Actor | None, calendar_id: int, data: YearImport) -> tuple[Calendar, int]:
    """Replace one year's holidays and overrides (the State Council's arrangement, announced each autumn),
    keep every other year's; returns the open clocks recomputed."""
    row = get_calendar(session, actor, calendar_id, for_update=True)
    _may_write(actor, "Calendar", seen=True)
    current = row.definition
    # Validate the import on its own first, so errors name its own fields ("holidays[3]").
    parse_definition({"timezone": current["timezone"], "week": current["week"], "holidays": data.holidays,
                      "overrides": data.overrides}, prefix="")
    prefix = f"{data.year:04d}-"
    for n, day in enumerate(data.holidays):
        if not day.startswith(prefix):
            raise Invalid(f"holidays[{n}]: {day} is not in {data.year}", field=f"holidays[{n}]")
    for day in data.overrides:
        if not day.startswith(prefix):
            raise Invalid(f"overrides.{day}: not in {data.year}", field=f"overrides.{day}")
    holidays = [d for d in current.get("holidays", []) if not d.startswith(prefix)] + list(data.holidays)
    overrides = {d: v for d, v in current.get("overrides", {}).items() if not d.startswith(prefix)}
    overrides.update(data.overrides)
    definition = parse_definition({**current, "holidays": holidays, "overrides": overrides}).to_dict()
    before = {"version": row.version, "year": data.year, **_year_counts(current, prefix), **summary(current)}
    recomputed = _apply(session, row, definition)
    record(session, actor, "calendar.import_year", "calendar", row.id, before=before, actor_label="cli",
           after={"version": row.version, "year": data.year, **_year_counts(definition, prefix),
                  **summary(definition), "recomputed_clocks": recomputed})
    return (row if actor is None else get_calendar(session, actor, row.id)), recomputed


def _year_counts(definition: dict[str, Any], prefix: str) -> dict[str, int]:
    return {"year_holidays": sum(d.startswith(prefix) for d in definition.get("holidays", [])),
            "year_overrides": sum(d.startswith(prefix) for d in definition.get("overrides", {}))}


def _apply(session: Session, row: Calendar, definition: dict[str, Any]) -> int:
    """Store a changed definition under a new version and recompute the open clocks on it."""
    if definition == row.definition:
        session.flush()
        return 0
    row.definition = definition
    row.version += 1
    row.updated_at = utcnow()
    session.flush()
    return recompute_calendar(session, row.id, utcnow())


# --- policies --------------------------------------------------------------------------------------------------


def get_policy(session: Session, actor: Actor | None, policy_id: int, *, for_update: bool = False) -> SlaPolicy:
    stmt = select(SlaPolicy).where(SlaPolicy.id == policy_id)
    if actor is not None:
        stmt = readable_policies(stmt, actor)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None:
        raise NotFound("Policy not found.", field="policy_id")
    return row


def list_policies(
    session: Session, actor: Actor, *, customer_org_id: int | None = None, limit: int = 50, offset: int = 0,
) -> tuple[list[SlaPolicy], int]:
    _may_list(actor, "Policy")
    stmt = readable_policies(select(SlaPolicy), actor)
    if customer_org_id is not None:
        stmt = stmt.where(SlaPolicy.customer_org_id == customer_org_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    return list(session.scalars(stmt.order_by(SlaPolicy.id).limit(limit).offset(offset))), total


def create_policy(session: Session, actor: Actor | None, data: PolicyCreate) -> SlaPolicy:
    _may_write(actor, "Policy")
    values = _checked(session, data.model_dump(), None)
    row = SlaPolicy(**values)
    session.add(row)
    session.flush()
    unset = _one_default(session, row)
    record(session, actor, "sla_policy.create", "sla_policy", row.id, actor_label="cli",
           after={**_snapshot(row), "unset_defaults": unset})
    return row if actor is None else get_policy(session, actor, row.id)


def update_policy(session: Session, actor: Actor | None, policy_id: int, data: PolicyUpdate) -> tuple[SlaPolicy, int]:
    """Change a policy; a new calendar, new targets or new escalation steps recompute its tickets' open
    clocks (targets per each ticket's priority). Returns the clocks recomputed."""
    row = get_policy(session, actor, policy_id, for_update=True)
    _may_write(actor, "Policy", seen=True)
    changes = data.model_dump(exclude_unset=True)
    for key in ("name", "calendar_id", "is_default", "targets", "pause_statuses", "escalations", "is_active"):
        if key in changes and changes[key] is None:
            raise Invalid("%(name)s cannot be empty.", field=key, name=key)
    values = _checked(session, {**_snapshot(row), **changes}, row.id)
    before = _snapshot(row)
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
    session.flush()
    unset = _one_default(session, row)
    recomputed = 0
    if any(before[k] != values[k] for k in ("calendar_id", "targets", "escalations")):
        recomputed = recompute_policy(session, row, utcnow())
    record(session, actor, "sla_policy.update", "sla_policy", row.id, before=before, actor_label="cli",
           after={**_snapshot(row), "unset_defaults": unset, "recomputed_clocks": recomputed})
    return (row if actor is None else get_policy(session, actor, row.id)), recomputed


def _snapshot(row: SlaPolicy) -> dict[str, Any]:
    return {name: getattr(row, name) for name in POLICY_FIELDS}


def _checked(session: Session, values: dict[str, Any], policy_id: int | None) -> dict[str, Any]:
    """The policy's stored form, or Invalid/Conflict naming the field at fault."""
    name = values["name"].strip()
    clash = session.scalar(select(SlaPolicy.id).where(SlaPolicy.name == name))
    if clash is not None and clash != policy_id:
        raise Conflict("A policy named %(name)s already exists.", field="name", name=name)
    if session.get(Calendar, values["calendar_id"]) is None:
        raise Invalid("Calendar not found.", field="calendar_id")
    org_id = values.get("customer_org_id")
    if org_id is not None:
        org = session.get(Organization, org_id)
        if org is None or org.kind != OrgKind.customer:
            raise Invalid("Not a customer organization.", field="customer_org_id")
    targets: dict[str, dict[str, int]] = {}
    for priority, metrics in sorted(values["targets"].items()):
        kept = {metric: int(minutes) for metric, minutes in metrics.items() if minutes is not None}
        if not kept:
            raise Invalid(f"targets.{priority}: give at least one of first_response, resolution, on_site",
                          field=f"targets.{priority}")
        targets[priority] = kept
    statuses = list(values["pause_statuses"])
    for n, status in enumerate(statuses):
        if status in statuses[:n]:
            raise Invalid(f"pause_statuses.{n}: {status} is listed twice", field=f"pause_statuses.{n}")
    steps: list[dict[str, Any]] = []
    for n, step in enumerate(values["escalations"]):
        percent = int(step["percent"])
        if any(s["percent"] == percent for s in steps):
            raise Invalid(f"escalations.{n}.percent: {percent} is listed twice", field=f"escalations.{n}.percent")
        steps.append({"percent": percent, "notify": list(dict.fromkeys(step.get("notify") or []))})
    return {"name": name, "calendar_id": values["calendar_id"], "customer_org_id": org_id,
            "is_default": bool(values["is_default"]), "targets": targets, "pause_statuses": statuses,
            "escalations": sorted(steps, key=lambda s: s["percent"]), "is_active": bool(values["is_active"])}


def _one_default(session: Session, row: SlaPolicy) -> list[int]:
    """Keep at most one default per customer and one global default (setting one unsets the other), and
    always one active global default: tickets of customers without their own need it."""
    unset: list[int] = []
    if row.is_default:
        same_owner = (SlaPolicy.customer_org_id.is_(None) if row.customer_org_id is None
                      else SlaPolicy.customer_org_id == row.customer_org_id)
        unset = list(session.scalars(select(SlaPolicy.id).where(
            same_owner, SlaPolicy.is_default.is_(True), SlaPolicy.id != row.id).order_by(SlaPolicy.id)))
        if unset:
            session.execute(update(SlaPolicy).where(SlaPolicy.id.in_(unset)).values(is_default=False))
    global_default = session.scalar(select(func.count()).select_from(SlaPolicy).where(
        SlaPolicy.customer_org_id.is_(None), SlaPolicy.is_default.is_(True), SlaPolicy.is_active.is_(True)))
    if not global_default:
        raise Conflict("There must be an active global default policy: make another policy the global default "
                       "instead.", field="is_default")
    return unset
