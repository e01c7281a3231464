"""Coverage: how fast the best qualified engineer could reach each county, and where customers' sites are out
of reach of their contract's on-site target (with the partners that could close each gap).

Arrival is measured from the engineer's home base with the dispatch travel model (`travel.TravelModel`), as if
the engineer left now: absences, bookings and the day's capacity do not count, because coverage is about the
network, not today's roster. An engineer qualifies for a place when active, holding every skill asked for,
holding the certification asked for with a certificate valid today (China time), and serving the place's
division (the optimizer's prefix rules).

Who sees what: operators who plan or sell support (admin, dispatcher, ecosystem_manager, account_manager,
agent) see every engineer and every customer's gaps; a partner's admin and engineers see county coverage by
their own partner's engineers only and no gaps (403: gaps are about customers' sites); customer users see the
gaps at their own organization's sites only (another customer's id is a 404), and no county coverage (403).
The on-site target is the customer's P1 "on_site" minutes from `huoban.sla.store.policy_for_customer`, read
as minutes of travel.

A partner could close a gap only with an engineer holding the skills (and valid certificate) the place needs;
its regions served do not count there, since serving one more county is what closing the gap asks of it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from huoban.config import get_settings
from huoban.dispatch.optimizer import regions_matrix, skills_matrix
from huoban.dispatch.travel import TravelModel, distance_matrix_km
from huoban.errors import Forbidden, Invalid, NotFound
from huoban.identity.actor import Actor
from huoban.models import (
    CustomerSite,
    Engineer,
    EngineerCertification,
    Organization,
    OrgKind,
    Region,
    Role,
    Ticket,
    User,
)
from huoban.sla.store import policy_for_customer

OPERATOR_ROLES = (Role.admin, Role.dispatcher, Role.ecosystem_manager, Role.account_manager, Role.agent)
PARTNER_ROLES = (Role.partner_admin, Role.partner_engineer)
CUSTOMER_ROLES = (Role.customer_admin, Role.customer_member)
DEFAULT_TARGET_MINUTES = 240
MAX_TARGET_MINUTES = 7 * 24 * 60
PARTNERS_PER_GAP = 5  # partners whose nearest engineer arrives within the target, at most
NEAREST_WHEN_NONE_IN_TARGET = 3  # when none does: this many nearest partners, plus those of the same province
SKILL = re.compile(r"[a-z][a-z0-9_]{0,31}")
PROVINCE = re.compile(r"[0-9]{2}(0000)?")


@dataclass(frozen=True)
class CoverageEngineer:
    """An engineer as coverage needs them: where they live, what they can do and where they go."""

    id: int
    name: str
    org_id: int
    org_name: str
    org_kind: str
    longitude: float
    latitude: float
    skills: frozenset[str]
    certifications: dict[str, date | None]
    regions_served: tuple[str, ...]


@dataclass(frozen=True)
class Place:
    """A point to reach: a county seat, a customer site or the county of a ticket needing a visit."""

    region_code: str
    longitude: float
    latitude: float
    required_skills: frozenset[str] = frozenset()
    certification: str | None = None


@dataclass(frozen=True)
class Reach:
    """The best qualified engineer for one place, or none."""

    minutes: int | None
    distance_km: float | None
    engineer: CoverageEngineer | None


@dataclass
class CountyCoverage:
    code: str
    name: str
    full_name: str
    province_code: str
    longitude: float
    latitude: float
    best_minutes: int | None
    distance_km: float | None
    engineer_id: int | None
    engineer_name: str | None
    org_id: int | None
    org_name: str | None
    meets: bool


@dataclass
class CountyReport:
    skill: str | None
    certification: str | None
    target_minutes: int
    province: str | None
    engineers: int
    counties: list[CountyCoverage]

    @property
    def met(self) -> int:
        return sum(1 for c in self.counties if c.meets)

    @property
    def unreachable(self) -> int:
        return sum(1 for c in self.counties if c.best_minutes is None)


@dataclass
class PartnerOption:
    """A partner that could close a gap. `nearest_minutes` and `engineer_name` are of its nearest engineer who
    holds the skills (and valid certificate) the place needs; when it has none (`has_skills` false), of its
    nearest engineer at all, and `missing_skills` are the needed skills none of its engineers holds."""

    org_id: int
    name: str
    nearest_minutes: int | None
    engineer_name: str | None
    same_province: bool
    within_target: bool
    has_skills: bool = True
    missing_skills: list[str] = field(default_factory=list)
    listed_as: str = "within_target"  # within_target | nearest | same_province (why the partner is listed)


@dataclass
class Gap:
    kind: str  # site | ticket_county
    site_id: int | None
    site_name: str
    region_code: str
    region_name: str
    longitude: float
    latitude: float
    required_skills: list[str]
    best_minutes: int | None  # None: no qualified engineer at all
    engineer_name: str | None
    engineer_org_name: str | None
    shortfall_minutes: int | None
    partners: list[PartnerOption] = field(default_factory=list)


@dataclass
class PlaceReach:
    """One place checked for a customer, met or not: what the customer's own map shows (no engineer in it)."""

    kind: str  # site | ticket_county
    site_id: int | None
    site_name: str
    region_code: str
    longitude: float
    latitude: float
    best_minutes: int | None
    meets: bool


@dataclass
class CustomerGaps:
    customer_org_id: int
    customer_name: str
    policy_name: str
    target_minutes: int
    places_checked: int
    gaps: list[Gap]
    places: list[PlaceReach] = field(default_factory=list)


def can_see_counties(actor: Actor) -> bool:
    return (actor.is_operator and actor.has_role(*OPERATOR_ROLES)) or (actor.is_partner and
                                                                      actor.has_role(*PARTNER_ROLES))


def can_see_gaps(actor: Actor) -> bool:
    return (actor.is_operator and actor.has_role(*OPERATOR_ROLES)) or (actor.is_customer and
                                                                      actor.has_role(*CUSTOMER_ROLES))


# --- the computation, on plain values -------------------------------------------------------------------------


def best_reach(places: Sequence[Place], engineers: Sequence[CoverageEngineer], travel: TravelModel,
               today: date) -> list[Reach]:
    """For each place, the qualified engineer with the shortest trip (ties: lowest engineer id)."""
    if not places:
        return []
    if not engineers:
        return [Reach(None, None, None)] * len(places)
    dist = distance_matrix_km([p.longitude for p in places], [p.latitude for p in places],
                              [e.longitude for e in engineers], [e.latitude for e in engineers])
    minutes = travel.minutes_array(dist).astype(np.float64)
    ok = _able(places, engineers, today)
    ok &= regions_matrix([p.region_code for p in places], [e.regions_served for e in engineers])
    minutes[~ok] = np.inf
    best = np.argmin(minutes, axis=1)  # engineers are sorted by id, so ties go to the lowest id
    rows = np.arange(len(places))
    out = []
    for i, j in zip(rows, best, strict=True):
        if np.isinf(minutes[i, j]):
            out.append(Reach(None, None, None))
        else:
            out.append(Reach(int(minutes[i, j]), round(float(dist[i, j]), 1), engineers[int(j)]))
    return out


def _able(places: Sequence[Place], engineers: Sequence[CoverageEngineer], today: date) -> NDArray[np.bool_]:
    """Which engineer could do the job at which place: every skill needed and the certificate, valid today."""
    ok = skills_matrix([p.required_skills for p in places], [e.skills for e in engineers])
    return ok & _certified(places, engineers, today)


def _valid(expires: date | None, today: date) -> bool:
    return expires is None or expires >= today


def _certified(places: Sequence[Place], engineers: Sequence[CoverageEngineer], today: date) -> NDArray[np.bool_]:
    ok = np.ones((len(places), len(engineers)), dtype=bool)
    for name in {p.certification for p in places if p.certification}:
        rows = np.array([p.certification == name for p in places])
        holds = np.array([name in e.certifications and _valid(e.certifications[name], today) for e in engineers])
        ok[rows] &= holds[None, :]
    return ok


# --- reading the database -----------------------------------------------------------------------------------


def _today() -> date:
    return datetime.now(ZoneInfo(get_settings().timezone)).date()


def _travel() -> TravelModel:
    return TravelModel.from_settings(get_settings())


def load_engineers(session: Session, org_id: int | None = None) -> list[CoverageEngineer]:
    """Active engineers of active organizations, by id; only `org_id`'s when given."""
    stmt = (
        select(Engineer, User.display_name, Organization.name, Organization.kind)
        .join(User, User.id == Engineer.user_id)
        .join(Organization, Organization.id == Engineer.org_id)
        .where(Engineer.is_active.is_(True), User.is_active.is_(True), Organization.is_active.is_(True))
        .order_by(Engineer.id)
    )
    if org_id is not None:
        stmt = stmt.where(Engineer.org_id == org_id)
    rows = session.execute(stmt).all()
    certs: dict[int, dict[str, date | None]] = {}
    ids = [row[0].id for row in rows]
    for start in range(0, len(ids), 500):
        for cert in session.scalars(
            select(EngineerCertification).where(EngineerCertification.engineer_id.in_(ids[start:start + 500]))
        ):
            held = certs.setdefault(cert.engineer_id, {})
            held[cert.name] = _longest(held[cert.name], cert.expires_on) if cert.name in held else cert.expires_on
    return [
        CoverageEngineer(
            id=e.id, name=name, org_id=e.org_id, org_name=org_name, org_kind=kind,
            longitude=e.home_longitude, latitude=e.home_latitude, skills=frozenset(e.skills or ()),
            certifications=certs.get(e.id, {}), regions_served=tuple(e.regions_served or ()),
        )
        for e, name, org_name, kind in rows
    ]


def _longest(a: date | None, b: date | None) -> date | None:
    """Of two certificates of one name, the expiry of the one valid longest (None: never expires)."""
    return None if a is None or b is None else max(a, b)


def _check_skill(skill: str | None, name: str = "skill") -> str | None:
    skill = (skill or "").strip() or None
    if skill is not None and not SKILL.fullmatch(skill):
        raise Invalid("A skill is a lower-case word such as network or power_scada.", field=name)
    return skill


def _check_target(target_minutes: int | None) -> int | None:
    if target_minutes is not None and not 1 <= target_minutes <= MAX_TARGET_MINUTES:
        raise Invalid("The target must be between 1 and %(max)s minutes.", field="target_minutes",
                      max=MAX_TARGET_MINUTES)
    return target_minutes


def _check_province(session: Session, province: str | None) -> str | None:
    province = (province or "").strip() or None
    if province is None:
        return None
    if not PROVINCE.fullmatch(province):
        raise Invalid("A province is its 2-digit or 6-digit code, e.g. 37 or 370000.", field="province")
    code = province[:2] + "0000"
    region = session.get(Region, code)
    if region is None or region.level != "province":
        raise Invalid("No province has the code %(code)s.", field="province", code=province)
    return code


def county_coverage(session: Session, actor: Actor, skill: str | None = None,
                    target_minutes: int = DEFAULT_TARGET_MINUTES, province: str | None = None,
                    certification: str | None = None) -> CountyReport:
    """Every county (of one province if given) with the best arrival any qualified engineer the actor may see
    could achieve, and whether it meets `target_minutes`."""
    if not can_see_counties(actor):
        raise Forbidden("Your role cannot see engineer coverage.")
    engineers = load_engineers(session, None if actor.is_operator else actor.org_id)
    skill = _check_skill(skill)
    target = _check_target(target_minutes) or DEFAULT_TARGET_MINUTES
    code = _check_province(session, province)
    certification = (certification or "").strip() or None
    if certification is not None and len(certification) > 64:
        raise Invalid("A certification name is at most 64 characters.", field="certification")
    stmt = select(Region).where(Region.level == "county", Region.placeholder.is_(False)).order_by(Region.code)
    if code is not None:
        stmt = stmt.where(Region.province_code == code)
    counties = list(session.scalars(stmt))
    wanted = frozenset({skill}) if skill else frozenset()
    places = [Place(r.code, r.longitude, r.latitude, wanted, certification) for r in counties]
    rows = []
    for region, reach in zip(counties, best_reach(places, engineers, _travel(), _today()), strict=True):
        e = reach.engineer
        rows.append(CountyCoverage(
            code=region.code, name=region.name, full_name=region.full_name, province_code=region.province_code,
            longitude=region.longitude, latitude=region.latitude, best_minutes=reach.minutes,
            distance_km=reach.distance_km, engineer_id=e.id if e else None, engineer_name=e.name if e else None,
            org_id=e.org_id if e else None, org_name=e.org_name if e else None,
            meets=reach.minutes is not None and reach.minutes <= target,
        ))
    return CountyReport(skill=skill, certification=certification, target_minutes=target, province=code,
                        engineers=len(engineers), counties=rows)


def _customers_in_scope(session: Session, actor: Actor, customer_org_id: int | None) -> list[Organization]:
    if not can_see_gaps(actor):
        raise Forbidden("Your role cannot see coverage gaps.")
    if actor.is_operator:
        stmt = select(Organization).where(Organization.kind == OrgKind.customer, Organization.is_active.is_(True))
        if customer_org_id is not None:
            stmt = stmt.where(Organization.id == customer_org_id)
    else:
        if customer_org_id is not None and customer_org_id != actor.org_id:
            raise NotFound("Customer not found.", field="customer_org_id")
        stmt = select(Organization).where(Organization.id == actor.org_id)
    customers = list(session.scalars(stmt.order_by(Organization.name)))
    if customer_org_id is not None and not customers:
        raise NotFound("Customer not found.", field="customer_org_id")
    return customers


def _target_for(session: Session, customer_id: int, given: int | None) -> tuple[str, int]:
    try:
        policy = policy_for_customer(session, customer_id)
    except NotFound:
        return "", given or DEFAULT_TARGET_MINUTES
    on_site = (policy.targets or {}).get("P1", {}).get("on_site")
    return policy.name, given or (int(on_site) if on_site else DEFAULT_TARGET_MINUTES)


def _places_of(session: Session, customer_id: int) -> list[tuple[Place, CustomerSite | None, Region]]:
    """The customer's sites, then the counties of its tickets that needed a visit and have no site."""
    out: list[tuple[Place, CustomerSite | None, Region]] = []
    sites = session.execute(
        select(CustomerSite, Region).join(Region, Region.code == CustomerSite.region_code)
        .where(CustomerSite.customer_org_id == customer_id).order_by(CustomerSite.name, CustomerSite.id)
    ).all()
    for site, region in sites:
        out.append((Place(site.region_code, site.longitude, site.latitude, frozenset(site.required_skills or ())),
                    site, region))
    with_site = {site.region_code for site, _ in sites}
    counties = session.scalars(
        select(Region).where(Region.code.in_(
            select(Ticket.site_region_code).where(Ticket.customer_org_id == customer_id,
                                                  Ticket.on_site_required.is_(True),
                                                  Ticket.site_region_code.is_not(None))
        )).order_by(Region.code)
    )
    for region in counties:
        if region.code not in with_site:
            out.append((Place(region.code, region.longitude, region.latitude), None, region))
    return out


def _partner_options(session: Session, places: Sequence[Place], engineers: Sequence[CoverageEngineer],
                     target: int, travel: TravelModel, today: date) -> list[list[PartnerOption]]:
    """For each place, the partners that could close the gap, fastest first: those with an engineer holding the
    skills needed who arrives within the target (at most PARTNERS_PER_GAP); when none has, the
    NEAREST_WHEN_NONE_IN_TARGET nearest partners (with or without the skills; the nearest that has them is
    added when none of those does) plus the partners based in the same province, each marked with why it is
    listed (`listed_as`) and whether it has the skills."""
    partners = list(session.scalars(
        select(Organization).where(Organization.kind == OrgKind.partner, Organization.is_active.is_(True))
        .order_by(Organization.id)
    ))
    if not places:
        return []
    ids = {p.id for p in partners}
    staff = [e for e in engineers if e.org_id in ids]
    minutes = np.full((len(places), len(staff)), np.inf)
    if staff:
        minutes = travel.minutes_array(distance_matrix_km(
            [p.longitude for p in places], [p.latitude for p in places],
            [e.longitude for e in staff], [e.latitude for e in staff])).astype(np.float64)
    able = _able(places, staff, today) if staff else np.zeros((len(places), 0), dtype=bool)
    columns = {p.id: np.array([k for k, e in enumerate(staff) if e.org_id == p.id], dtype=int) for p in partners}
    held = {p.id: frozenset(s for k in columns[p.id] for s in staff[k].skills) for p in partners}
    options = []
    for i, place in enumerate(places):
        row = []
        for p in partners:
            cols = columns[p.id]
            skilled = cols[able[i, cols]]
            pick = skilled if len(skilled) else cols  # columns follow engineer id, so ties go to the lowest
            j = int(pick[np.argmin(minutes[i, pick])]) if len(pick) else None
            reach = None if j is None else int(minutes[i, j])
            row.append(PartnerOption(
                org_id=p.id, name=p.name, nearest_minutes=reach, engineer_name=None if j is None else staff[j].name,
                same_province=(p.region_code or "")[:2] == place.region_code[:2],
                within_target=len(skilled) > 0 and reach is not None and reach <= target,
                has_skills=len(skilled) > 0, missing_skills=sorted(place.required_skills - held[p.id]),
            ))
        row.sort(key=lambda o: (o.nearest_minutes is None, o.nearest_minutes or 0, not o.has_skills,
                                not o.same_province, o.org_id))
        within = [o for o in row if o.within_target]
        if within:
            options.append(within[:PARTNERS_PER_GAP])
            continue
        reached = [o for o in row if o.nearest_minutes is not None]
        nearest = reached[:NEAREST_WHEN_NONE_IN_TARGET]
        if not any(o.has_skills for o in nearest):
            nearest += [o for o in reached if o.has_skills][:1]
        for o in nearest:
            o.listed_as = "nearest"
        same = [o for o in row if o.same_province and o not in nearest]
        for o in same:
            o.listed_as = "same_province"
        options.append(nearest + same)
    return options


def coverage_gaps(session: Session, actor: Actor, customer_org_id: int | None = None,
                  target_minutes: int | None = None) -> list[CustomerGaps]:
    """Per customer in scope: the sites (and visit counties) no qualified engineer reaches within the on-site
    target, with the partners that could close each gap. Customers without any gap are listed with none."""
    customers = _customers_in_scope(session, actor, customer_org_id)
    target_given = _check_target(target_minutes)
    engineers = load_engineers(session)
    travel, today = _travel(), _today()
    result = []
    for customer in customers:
        policy_name, target = _target_for(session, customer.id, target_given)
        entries = _places_of(session, customer.id)
        places = [place for place, _, _ in entries]
        reaches = best_reach(places, engineers, travel, today)
        missed = [k for k, r in enumerate(reaches) if r.minutes is None or r.minutes > target]
        options = _partner_options(session, [places[k] for k in missed], engineers, target, travel, today)
        gaps = []
        for k, partners in zip(missed, options, strict=True):
            place, site, region = entries[k]
            r = reaches[k]
            gaps.append(Gap(
                kind="site" if site else "ticket_county", site_id=site.id if site else None,
                site_name=site.name if site else region.full_name, region_code=region.code,
                region_name=region.full_name, longitude=place.longitude, latitude=place.latitude,
                required_skills=sorted(place.required_skills), best_minutes=r.minutes,
                engineer_name=r.engineer.name if r.engineer else None,
                engineer_org_name=r.engineer.org_name if r.engineer else None,
                shortfall_minutes=None if r.minutes is None else r.minutes - target, partners=partners,
            ))
        checked = [
            PlaceReach(kind="site" if site else "ticket_county", site_id=site.id if site else None,
                       site_name=site.name if site else region.full_name, region_code=region.code,
                       longitude=place.longitude, latitude=place.latitude, best_minutes=r.minutes,
                       meets=r.minutes is not None and r.minutes <= target)
            for (place, site, region), r in zip(entries, reaches, strict=True)
        ]
        result.append(CustomerGaps(customer_org_id=customer.id, customer_name=customer.name, policy_name=policy_name,
                                   target_minutes=target, places_checked=len(places), gaps=gaps, places=checked))
    return result
