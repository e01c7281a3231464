"""API shapes for administrative divisions: a division, one with its parent and children, a distance."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RegionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str = Field(description="6-digit GB/T 2260 code")
    name: str
    full_name: str = Field(description="Real ancestors' names and its own, e.g. 浙江省宁波市海曙区")
    level: str = Field(description="province, city or county")
    parent_code: str | None
    province_code: str
    longitude: float
    latitude: float
    placeholder: bool = Field(description="A statistical grouping (市辖区, 县, ...), not a real division")


class RegionDetail(RegionRead):
    parent: RegionRead | None
    children: list[RegionRead] = Field(description="Real divisions directly under this one, by code")


class DistanceRead(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: RegionRead = Field(alias="from")
    to: RegionRead
    km: float = Field(description="Great-circle distance between the two divisions' coordinates, to 0.1 km")
