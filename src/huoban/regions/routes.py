"""JSON API for China's administrative divisions: search, one division with its tree, distances.

Public reference data: any caller with a valid bearer token reads every division.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from huoban.deps import ApiActor, DbSession
from huoban.regions import service
from huoban.regions.schemas import DistanceRead, RegionDetail, RegionRead

router = APIRouter(tags=["regions"])

Code = Annotated[str, Path(pattern=r"^[0-9]{6}$", description="6-digit division code, e.g. 330200")]


@router.get("/regions", response_model=list[RegionRead])
def search_regions(
    session: DbSession, actor: ApiActor,
    q: Annotated[str, Query(max_length=service.MAX_TEXT, description="A name (宁波, 海曙区) or a code")],
    limit: Annotated[int, Query(ge=1, le=100, description="At most this many matches")] = 20,
) -> list[RegionRead]:
    """Exact name first, then names starting with `q`, then names containing it; provinces before cities
    before counties. Placeholders (市辖区, 县) are only returned for their code."""
    return [RegionRead.model_validate(r) for r in service.search(session, q, limit)]


# Declared before /regions/{code} so that "distance" is never read as a code.
@router.get("/regions/distance", response_model=DistanceRead)
def region_distance(
    session: DbSession, actor: ApiActor,
    from_: Annotated[str, Query(alias="from", pattern=r"^[0-9]{6}$", description="Code of one division")],
    to: Annotated[str, Query(pattern=r"^[0-9]{6}$", description="Code of the other division")],
) -> DistanceRead:
    """Great-circle distance between two divisions' coordinates (not a travel distance)."""
    a = service.get(session, from_, field="from")
    b = service.get(session, to, field="to")
    km = round(service.distance_km(a, b), 1)
    return DistanceRead(from_=RegionRead.model_validate(a), to=RegionRead.model_validate(b), km=km)


@router.get("/regions/{code}", response_model=RegionDetail)
def get_region(session: DbSession, actor: ApiActor, code: Code) -> RegionDetail:
    region = service.get(session, code)
    parent = service.get(session, region.parent_code) if region.parent_code else None
    return RegionDetail(
        **RegionRead.model_validate(region).model_dump(),
        parent=RegionRead.model_validate(parent) if parent else None,
        children=[RegionRead.model_validate(c) for c in service.children(session, code)],
    )


@router.get("/regions/{code}/children", response_model=list[RegionRead])
def region_children(session: DbSession, actor: ApiActor, code: Code) -> list[RegionRead]:
    """Real divisions directly under `code`, by code (placeholders left out)."""
    return [RegionRead.model_validate(c) for c in service.children(session, code)]
