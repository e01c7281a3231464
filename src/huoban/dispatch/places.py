"""Where engineers live and sites are: a division code, or a free-text Chinese address resolved to its county
with `cpca`; coordinates come from the division table."""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session

from huoban.errors import Invalid
from huoban.models import Region
from huoban.regions import service as regions

_cpca_lock = threading.Lock()


def region_by_code(session: Session, code: str, field: str) -> Region:
    """A city or county by its code: a province is too coarse to place a site or a home base (its centre
    can be hundreds of kilometres from either), so it is a 422 naming `field`."""
    region = session.get(Region, code.strip())
    if region is None:
        raise Invalid("Unknown administrative division code %(code)s.", field=field, code=code)
    if region.level == "province":
        raise Invalid("Give a city or county code, not a province's (%(code)s).", field=field, code=code)
    return region


def resolve_address(session: Session, address: str, field: str) -> Region:
    """The county (or at least the city) a free-text address such as "山东省潍坊市寿光市文圣街 88 号" lies in."""
    import cpca

    text = (address or "").strip()
    if not text:
        raise Invalid("Enter an address.", field=field)
    with _cpca_lock:  # cpca keeps a module-level matcher that is not documented as thread-safe
        frame = cpca.transform([text])
    code = frame.iloc[0]["adcode"]
    region = session.get(Region, str(code)[:6]) if code else None
    if region is None:
        raise Invalid("No county or city could be found in this address.", field=field)
    if region.level == "province":
        raise Invalid("Name the city or county in the address, not only the province.", field=field)
    return region


def check_codes(session: Session, codes: list[str], field: str) -> list[str]:
    """Division codes that exist (province, city or county); the first unknown one is a 422 naming `field`."""
    for code in codes:
        if not regions.is_code(code) or session.get(Region, code) is None:
            raise Invalid("Unknown administrative division code %(code)s.", field=field, code=code)
    return codes


def place(session: Session, code: str | None, address: str | None, code_field: str, address_field: str) -> Region:
    """A division given by code, else resolved from the address; one of the two is required."""
    if code:
        return region_by_code(session, code, code_field)
    if address:
        return resolve_address(session, address, address_field)
    raise Invalid("Give a division code or an address.", field=code_field)
