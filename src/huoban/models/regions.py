"""China's administrative divisions (GB/T 2260) with coordinates, loaded from the table cpca ships.

`placeholder` marks the statistical groupings GB/T 2260 lists (市辖区, 县, 省直辖县级行政区划): they are kept
so the table is complete, but real divisions under them hang from the next real ancestor.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from huoban.models.base import Base


class Region(Base):
    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    full_name: Mapped[str] = mapped_column(String(128), index=True)
    level: Mapped[str] = mapped_column(String(16))  # province | city | county
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    province_code: Mapped[str] = mapped_column(String(6), index=True)
    placeholder: Mapped[bool] = mapped_column(Boolean, default=False)
    longitude: Mapped[float] = mapped_column(Float)
    latitude: Mapped[float] = mapped_column(Float)
