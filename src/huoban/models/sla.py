"""Working calendars, SLA policies, per-ticket clocks and the escalation steps they have fired."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from huoban.models.base import Base, CreatedAt, utcnow


class Calendar(CreatedAt, Base):
    """A working calendar in the JSON form of huoban.sla.calendar (timezone, week, holidays, overrides).

    `version` grows on every edit so clocks can tell they were computed on an older calendar."""

    __tablename__ = "calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str | None] = mapped_column(String(500))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SlaPolicy(CreatedAt, Base):
    """Targets per priority and metric in minutes of the calendar's working time, pause statuses and
    escalation steps. A contract will point to one; until then a customer's default policy applies,
    else the operator's global default (customer_org_id NULL, is_default true)."""

    __tablename__ = "sla_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id"), index=True)
    customer_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    # {"P1": {"first_response": 30, "resolution": 1440, "on_site": 480}, ...} in working minutes
    targets: Mapped[dict[str, Any]] = mapped_column(JSON)
    pause_statuses: Mapped[list[str]] = mapped_column(JSON)
    # [{"percent": 50, "notify": ["assignee"]}, ..., {"percent": 100, "notify": [...]}]; 100 is the breach
    escalations: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class SlaClock(Base):
    """One metric's clock on one ticket. `pauses` holds closed pause intervals as ISO pairs; an open
    pause has `paused_since`. Due and escalation instants are derived from these and the calendar,
    so an edit to either recomputes them exactly. Reopening starts a new cycle of the resolution clock."""

    __tablename__ = "sla_clocks"
    __table_args__ = (UniqueConstraint("ticket_id", "metric", "cycle"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    metric: Mapped[str] = mapped_column(String(16))  # first_response | resolution | on_site
    cycle: Mapped[int] = mapped_column(Integer, default=1)  # a reopened ticket starts a new resolution cycle
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id"), index=True)
    target_seconds: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    pauses: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    paused_since: Mapped[datetime | None]
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    next_escalation_at: Mapped[datetime | None] = mapped_column(index=True)
    next_escalation_percent: Mapped[int | None] = mapped_column(Integer)
    met_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]


class SlaEscalation(Base):
    """An escalation step fired for a clock; the unique key makes each step fire exactly once."""

    __tablename__ = "sla_escalations"
    __table_args__ = (UniqueConstraint("clock_id", "percent"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clock_id: Mapped[int] = mapped_column(ForeignKey("sla_clocks.id"), index=True)
    percent: Mapped[int] = mapped_column(Integer)
    fired_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None]
    notified: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text)
