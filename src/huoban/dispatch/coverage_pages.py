"""The coverage page: a map of every county's best arrival (ECharts scatter on longitude/latitude), the gaps at
customers' sites with the partners that could close them, and the gaps as Excel.

Operators who plan or sell support see both; a partner's users the map of their own engineers; customer users
the gaps at their own sites, and a map of those sites only (met or not, over the county seats of their provinces:
no engineer's home base, no other customer's site). Anyone else gets 403 (see `coverage` for the rules)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from huoban.deps import DbSession
from huoban.dispatch import coverage
from huoban.dispatch.coverage_excel import XLSX_TYPE, write_gaps
from huoban.errors import Forbidden, HuobanError, Invalid
from huoban.identity.actor import Actor
from huoban.models import Organization, OrgKind, Region
from huoban.web.forms import DIGITS
from huoban.web.i18n import translate_error
from huoban.web.pages import PageActor
from huoban.web.render import render, request_locale

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Query(max_length=64)]
SKILL_CHOICES = ("network", "storage", "database", "server", "security", "power", "power_scada")


def _int(value: str, field: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not DIGITS.fullmatch(value) or len(value) > 6:
        raise Invalid("Enter a whole number.", field=field)
    return int(value)


def _points(report: coverage.CountyReport) -> list[list[Any]]:
    """Compact rows for the chart: lon, lat, minutes (or null), meets, county, engineer, partner."""
    return [[round(c.longitude, 4), round(c.latitude, 4), c.best_minutes, c.meets, c.full_name,
             c.engineer_name, c.org_name] for c in report.counties]


def _gap_points(gaps: list[coverage.CustomerGaps]) -> list[list[Any]]:
    return [[round(g.longitude, 4), round(g.latitude, 4), g.best_minutes, c.customer_name, g.site_name]
            for c in gaps for g in c.gaps]


def _site_points(gaps: list[coverage.CustomerGaps]) -> list[list[Any]]:
    """The places that meet their target, in the shape of `_gap_points`."""
    return [[round(p.longitude, 4), round(p.latitude, 4), p.best_minutes, c.customer_name, p.site_name]
            for c in gaps for p in c.places if p.meets]


def _context_points(session: Session, gaps: list[coverage.CustomerGaps]) -> list[list[Any]]:
    """County seats of the provinces the places are in, drawn faintly so that a few sites read as a map."""
    provinces = {p.region_code[:2] + "0000" for c in gaps for p in c.places}
    if not provinces:
        return []
    counties = session.scalars(select(Region).where(
        Region.level == "county", Region.placeholder.is_(False), Region.province_code.in_(provinces)
    ).order_by(Region.code))
    return [[round(r.longitude, 4), round(r.latitude, 4), r.full_name] for r in counties]


def _skills(session: Session, actor: Actor) -> list[str]:
    engineers = coverage.load_engineers(session, None if actor.is_operator else actor.org_id) \
        if coverage.can_see_counties(actor) else []
    return sorted(set(SKILL_CHOICES) | {s for e in engineers for s in e.skills})


@router.get("/dispatch/coverage", response_class=HTMLResponse)
def coverage_page(request: Request, session: DbSession, actor: PageActor, skill: Text = "", target: Text = "",
                  province: Text = "", customer: Text = "") -> Response:
    counties, gaps = coverage.can_see_counties(actor), coverage.can_see_gaps(actor)
    if not (counties or gaps):
        raise Forbidden("Your role cannot see engineer coverage.")
    context: dict[str, Any] = {
        "qs": {"skill": skill, "target": target, "province": province, "customer": customer},
        "show_counties": counties, "show_gaps": gaps, "report": None, "gaps": [], "points": [], "gap_points": [],
        "site_points": [], "context_points": [],
        "skills": _skills(session, actor),
        "provinces": list(session.scalars(select(Region).where(Region.level == "province").order_by(Region.code))),
        "customers": list(session.scalars(select(Organization).where(
            Organization.kind == OrgKind.customer, Organization.is_active.is_(True)).order_by(Organization.name)))
        if actor.is_operator else [],
        "default_target": coverage.DEFAULT_TARGET_MINUTES,
    }
    status = 200
    try:
        target_minutes = _int(target, "target_minutes")
        customer_id = _int(customer, "customer_org_id")
        if counties:
            report = coverage.county_coverage(session, actor, skill=skill or None,
                                              target_minutes=target_minutes or coverage.DEFAULT_TARGET_MINUTES,
                                              province=province or None)
            context["report"], context["points"] = report, _points(report)
        if gaps:
            found = coverage.coverage_gaps(session, actor, customer_org_id=customer_id, target_minutes=target_minutes)
            context["gaps"], context["gap_points"] = found, _gap_points(found)
            if not counties:
                context["site_points"], context["context_points"] = _site_points(found), _context_points(session, found)
    except HuobanError as exc:
        if exc.status_code != 422:
            raise
        context["message"] = translate_error(request_locale(request), exc.message, exc.params)
        status = 422
    return render(request, "dispatch/coverage.html", context, status_code=status)


@router.get("/dispatch/coverage/gaps.xlsx")
def coverage_gaps_xlsx(session: DbSession, actor: PageActor, target: Text = "", customer: Text = "") -> Response:
    report = coverage.coverage_gaps(session, actor, customer_org_id=_int(customer, "customer_org_id"),
                                    target_minutes=_int(target, "target_minutes"))
    return Response(write_gaps(report), media_type=XLSX_TYPE,
                    headers={"Content-Disposition": 'attachment; filename="coverage-gaps.xlsx"'})
