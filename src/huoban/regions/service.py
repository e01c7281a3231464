"""Reading China's administrative divisions: look-up by code, search by name, the tree, distances.

Divisions are public reference data: every signed-in actor reads all of them, so nothing here is
scoped to an organization. Placeholders (市辖区, 县, ...) are found by code only; searches and child
lists leave them out because real divisions hang from the next real ancestor instead.
"""

from __future__ import annotations

import math
import re

from sqlalchemy import case, or_, select
from sqlalchemy.orm import Session

from huoban.errors import Invalid, NotFound
from huoban.models import Region

CODE = re.compile(r"[0-9]{6}")
MAX_TEXT = 50
MAX_LIMIT = 500
EARTH_RADIUS_KM = 6371.0088
LEVEL_ORDER = case({"province": 0, "city": 1, "county": 2}, value=Region.level, else_=3)


def is_code(text: str) -> bool:
    return CODE.fullmatch(text) is not None


def get(session: Session, code: str, field: str = "code") -> Region:
    """The division with this code, placeholders included; NotFound names `field`."""
    code = code.strip()
    if not is_code(code):
        raise Invalid("A division code has exactly 6 digits.", field=field)
    region = session.get(Region, code)
    if region is None:
        raise NotFound("No administrative division has the code %(code)s.", field=field, code=code)
    return region


def search(session: Session, text: str, limit: int = 20) -> list[Region]:
    """Divisions matching `text`: a 6-digit code gives that division (or nothing); a name gives the
    exact name first, then names starting with it, then names or full names containing it, each rank
    ordered province, city, county and then by code. Placeholders only turn up for their code."""
    text = (text or "").strip()
    if not text:
        raise Invalid("Enter a name or a 6-digit code.", field="q")
    if len(text) > MAX_TEXT:
        raise Invalid("Search text is at most %(max)s characters.", field="q", max=MAX_TEXT)
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid("The limit must be between 1 and %(max)s.", field="limit", max=MAX_LIMIT)
    if is_code(text):
        region = session.get(Region, text)
        return [region] if region is not None else []
    rank = case(
        (Region.name == text, 0),
        (Region.name.startswith(text, autoescape=True), 1),
        else_=2,
    )
    contains = or_(
        Region.name.contains(text, autoescape=True), Region.full_name.contains(text, autoescape=True)
    )
    stmt = (
        select(Region)
        .where(Region.placeholder.is_(False), contains)
        .order_by(rank, LEVEL_ORDER, Region.code)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def children(session: Session, code: str) -> list[Region]:
    """Real divisions directly under `code`, by code; NotFound if the code does not exist."""
    parent = get(session, code)
    stmt = select(Region).where(Region.parent_code == parent.code, Region.placeholder.is_(False))
    return list(session.scalars(stmt.order_by(Region.code)))


def ancestors(session: Session, code: str) -> list[Region]:
    """The chain above `code`, province first, ending with its parent (empty for a province)."""
    region = get(session, code)
    chain: list[Region] = []
    seen = {region.code}
    while region.parent_code is not None and region.parent_code not in seen:
        parent = session.get(Region, region.parent_code)
        if parent is None:
            break
        chain.insert(0, parent)
        seen.add(parent.code)
        region = parent
    return chain


def distance_km(a: Region, b: Region) -> float:
    """Great-circle (haversine) distance between two divisions' coordinates, in kilometres."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlng = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
