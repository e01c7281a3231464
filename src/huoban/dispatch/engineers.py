"""Engineer profiles: who goes on site, with which skills and certificates, from where, serving which
divisions, on which working calendar, and when they are away.

Operator admins and dispatchers manage every engineer; a partner's admin manages his own partner's.
An engineer is a user of the operator or of a partner; `org_id` repeats the user's organization.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from huoban.audit.service import record
from huoban.dispatch import places
from huoban.dispatch import repository as repo
from huoban.dispatch.schemas import (
    AbsenceIn,
    AbsenceRead,
    CertificationIn,
    CertificationRead,
    EngineerCreate,
    EngineerRead,
    EngineerUpdate,
)
from huoban.errors import Conflict, Forbidden, Invalid, NotFound
from huoban.identity.actor import Actor
from huoban.models import (
    Calendar,
    Engineer,
    EngineerAbsence,
    EngineerCertification,
    Organization,
    OrgKind,
    Region,
    Role,
    User,
    utcnow,
)

# Sane windows for dates people type: an absence starts between a year ago and two years ahead and lasts at
# most a year; a certificate expires between 20 years ago and 30 years ahead. Anything else is a typo (or an
# attempt to block planning with a date the arithmetic cannot hold).
ABSENCE_STARTS_BEFORE = timedelta(days=365)
ABSENCE_STARTS_AFTER = timedelta(days=2 * 365)
ABSENCE_LONGEST = timedelta(days=366)
EXPIRY_YEARS_BEFORE, EXPIRY_YEARS_AFTER = 20, 30
DEFAULT_CALENDAR = "24x7"  # engineers on call; give cn-standard (or any stored calendar) for office hours
MANAGER_ROLES = (Role.admin, Role.dispatcher)


def may_manage(actor: Actor, org_id: int) -> bool:
    if actor.is_operator:
        return actor.has_role(*MANAGER_ROLES)
    return actor.is_partner and actor.has_role(Role.partner_admin) and actor.org_id == org_id


def _require_manage(actor: Actor, org_id: int) -> None:
    if not may_manage(actor, org_id):
        raise Forbidden("Only dispatchers, operator admins and the partner's admin manage engineers.")


def _calendar_id(session: Session, calendar_id: int | None) -> int:
    if calendar_id is None:
        found = session.scalar(select(Calendar.id).where(Calendar.name == DEFAULT_CALENDAR))
        if found is None:
            raise Invalid("Choose a working calendar.", field="calendar_id")
        return found
    if session.get(Calendar, calendar_id) is None:
        raise Invalid("Calendar not found.", field="calendar_id")
    return calendar_id


def _set_home(session: Session, engineer: Engineer, code: str | None, address: str | None) -> None:
    region = places.place(session, code, address, "home_region_code", "home_address")
    engineer.home_region_code = region.code
    engineer.home_address = address
    engineer.home_longitude = region.longitude
    engineer.home_latitude = region.latitude


def check_expiry(expires_on: date | None, today: date) -> None:
    """422 naming expires_on when the date lies outside the sane window (see EXPIRY_YEARS_*)."""
    if expires_on is None:
        return
    low = date(today.year - EXPIRY_YEARS_BEFORE, 1, 1)
    high = date(today.year + EXPIRY_YEARS_AFTER, 12, 31)
    if not low <= expires_on <= high:
        raise Invalid("A certificate expires between %(low)s and %(high)s.", field="expires_on",
                      low=low.isoformat(), high=high.isoformat())


def check_absence(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    """422 naming the field: an absence starts within a year before and two years after now, ends after it
    starts and lasts at most a year."""
    if not now - ABSENCE_STARTS_BEFORE <= starts_at <= now + ABSENCE_STARTS_AFTER:
        raise Invalid("An absence starts between a year ago and two years from now.", field="starts_at")
    if ends_at <= starts_at:
        raise Invalid("An absence ends after it starts.", field="ends_at")
    if ends_at - starts_at > ABSENCE_LONGEST:
        raise Invalid("An absence lasts at most a year.", field="ends_at")


def _replace_certifications(session: Session, engineer: Engineer, certs: list[CertificationIn]) -> None:
    today = utcnow().date()
    for cert in certs:
        check_expiry(cert.expires_on, today)
    for old in session.scalars(select(EngineerCertification).where(EngineerCertification.engineer_id == engineer.id)):
        session.delete(old)
    session.flush()
    for cert in certs:
        session.add(EngineerCertification(engineer_id=engineer.id, name=cert.name, number=cert.number,
                                          expires_on=cert.expires_on))
    session.flush()


def _snapshot(engineer: Engineer) -> dict[str, object]:
    return {"skills": list(engineer.skills or []), "home_region_code": engineer.home_region_code,
            "regions_served": list(engineer.regions_served or []), "calendar_id": engineer.calendar_id,
            "max_orders_per_day": engineer.max_orders_per_day, "is_active": engineer.is_active}


def create_engineer(session: Session, actor: Actor, data: EngineerCreate) -> Engineer:
    user = session.get(User, data.user_id)
    visible = user is not None and (actor.is_operator or user.org_id == actor.org_id)
    if user is None or not visible:
        raise NotFound("User not found.", field="user_id")
    _require_manage(actor, user.org_id)
    org = session.get_one(Organization, user.org_id)
    if org.kind not in (OrgKind.operator, OrgKind.partner):
        raise Invalid("Engineers are users of the operator or of a partner.", field="user_id")
    if not user.is_active:
        raise Invalid("That user is deactivated.", field="user_id")
    if repo.engineer_of_user(session, user.id) is not None:
        raise Conflict("That user already has an engineer profile.", field="user_id")
    engineer = Engineer(
        user_id=user.id, org_id=user.org_id, skills=list(data.skills),
        regions_served=places.check_codes(session, list(data.regions_served), "regions_served"),
        calendar_id=_calendar_id(session, data.calendar_id), max_orders_per_day=data.max_orders_per_day,
        is_active=data.is_active,
    )
    _set_home(session, engineer, data.home_region_code, data.home_address)
    session.add(engineer)
    session.flush()
    _replace_certifications(session, engineer, data.certifications)
    record(session, actor, "engineer.create", "engineer", engineer.id, after=_snapshot(engineer))
    return engineer


def update_engineer(session: Session, actor: Actor, engineer_id: int, data: EngineerUpdate) -> Engineer:
    engineer = repo.get_engineer(session, actor, engineer_id, for_update=True)
    _require_manage(actor, engineer.org_id)
    changes = data.model_dump(exclude_unset=True)
    for key in ("skills", "regions_served", "max_orders_per_day", "is_active", "certifications"):
        if key in changes and changes[key] is None:
            raise Invalid("%(name)s cannot be empty.", field=key, name=key)
    before = _snapshot(engineer)
    if data.skills is not None:
        engineer.skills = list(data.skills)
    if data.regions_served is not None:
        engineer.regions_served = places.check_codes(session, list(data.regions_served), "regions_served")
    if "calendar_id" in changes:
        engineer.calendar_id = _calendar_id(session, data.calendar_id)
    if data.max_orders_per_day is not None:
        engineer.max_orders_per_day = data.max_orders_per_day
    if data.is_active is not None:
        engineer.is_active = data.is_active
    if "home_region_code" in changes or "home_address" in changes:
        _set_home(session, engineer, data.home_region_code, data.home_address)
    if data.certifications is not None:
        _replace_certifications(session, engineer, data.certifications)
    engineer.updated_at = utcnow()
    session.flush()
    record(session, actor, "engineer.update", "engineer", engineer.id, before=before, after=_snapshot(engineer))
    return engineer


def add_certification(session: Session, actor: Actor, engineer_id: int, data: CertificationIn) -> EngineerCertification:
    engineer = repo.get_engineer(session, actor, engineer_id, for_update=True)
    _require_manage(actor, engineer.org_id)
    check_expiry(data.expires_on, utcnow().date())
    cert = EngineerCertification(engineer_id=engineer.id, name=data.name, number=data.number,
                                 expires_on=data.expires_on)
    session.add(cert)
    session.flush()
    record(session, actor, "engineer.certification.add", "engineer", engineer.id,
           after={"name": cert.name, "expires_on": cert.expires_on.isoformat() if cert.expires_on else None})
    return cert


def remove_certification(session: Session, actor: Actor, engineer_id: int, certification_id: int) -> None:
    engineer = repo.get_engineer(session, actor, engineer_id, for_update=True)
    _require_manage(actor, engineer.org_id)
    cert = session.scalar(select(EngineerCertification).where(
        EngineerCertification.id == certification_id, EngineerCertification.engineer_id == engineer.id))
    if cert is None:
        raise NotFound("Certification not found.", field="certification_id")
    record(session, actor, "engineer.certification.remove", "engineer", engineer.id, before={"name": cert.name})
    session.delete(cert)
    session.flush()


def add_absence(session: Session, actor: Actor, engineer_id: int, data: AbsenceIn) -> EngineerAbsence:
    engineer = repo.get_engineer(session, actor, engineer_id, for_update=True)
    _require_manage(actor, engineer.org_id)
    check_absence(data.starts_at, data.ends_at, utcnow())
    absence = EngineerAbsence(engineer_id=engineer.id, kind=data.kind, starts_at=data.starts_at,
                              ends_at=data.ends_at, reason=data.reason, created_by_id=actor.user_id)
    session.add(absence)
    session.flush()
    record(session, actor, "engineer.absence.add", "engineer", engineer.id,
           after={"kind": absence.kind, "starts_at": absence.starts_at.isoformat(),
                  "ends_at": absence.ends_at.isoformat()})
    return absence


def remove_absence(session: Session, actor: Actor, engineer_id: int, absence_id: int) -> None:
    engineer = repo.get_engineer(session, actor, engineer_id, for_update=True)
    _require_manage(actor, engineer.org_id)
    absence = session.scalar(select(EngineerAbsence).where(
        EngineerAbsence.id == absence_id, EngineerAbsence.engineer_id == engineer.id))
    if absence is None:
        raise NotFound("Absence not found.", field="absence_id")
    record(session, actor, "engineer.absence.remove", "engineer", engineer.id,
           before={"kind": absence.kind, "starts_at": absence.starts_at.isoformat()})
    session.delete(absence)
    session.flush()


def engineer_reads(session: Session, engineers: list[Engineer], now: datetime | None = None) -> list[EngineerRead]:
    """Engineers with their user, organization, home division, certifications, coming absences and the
    order each holds, loaded in a few queries."""
    if not engineers:
        return []
    now = now or utcnow()
    ids = [e.id for e in engineers]
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_([e.user_id for e in engineers])))}
    orgs = {o.id: o for o in session.scalars(select(Organization).where(
        Organization.id.in_({e.org_id for e in engineers})))}
    regions = {r.code: r for r in session.scalars(select(Region).where(
        Region.code.in_({e.home_region_code for e in engineers})))}
    certs = repo.certifications(session, ids)
    away = repo.absences(session, ids, now)
    active = repo.active_orders(session, ids)
    return [
        EngineerRead(
            id=e.id, user_id=e.user_id, name=users[e.user_id].display_name, email=users[e.user_id].email,
            phone=users[e.user_id].phone, org_id=e.org_id, org_name=orgs[e.org_id].name, skills=list(e.skills or []),
            home_region_code=e.home_region_code, home_region_name=regions[e.home_region_code].full_name,
            home_address=e.home_address, home_longitude=e.home_longitude, home_latitude=e.home_latitude,
            regions_served=list(e.regions_served or []), calendar_id=e.calendar_id,
            max_orders_per_day=e.max_orders_per_day, is_active=e.is_active,
            certifications=[CertificationRead.model_validate(c) for c in certs[e.id]],
            absences=[AbsenceRead.model_validate(a) for a in away[e.id]],
            active_work_order_id=active[e.id][0].id if active.get(e.id) else None,
            active_work_order_ids=[o.id for o in active.get(e.id, [])],
            created_at=e.created_at, updated_at=e.updated_at,
        )
        for e in engineers
    ]
