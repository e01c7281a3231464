"""On-site dispatch: engineers with skills, certifications and absences; work orders; customer sites;
and the dispatch plans whose proposals a dispatcher accepts, changes or rejects."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from huoban.models.base import Base, CreatedAt, utcnow

# A work order holds its engineer in these states. An engineer may hold several, on windows that do not
# overlap (from the planned departure to the planned end on site); the dispatch service re-checks that under
# the engineer's row lock, so two dispatchers accepting at once cannot book one engineer twice at one time.
ACTIVE_ORDER_STATES = ("assigned", "accepted", "travelling", "on_site")


class Engineer(CreatedAt, Base):
    """A user of the operator or a partner who goes on site. `org_id` repeats the user's organization so
    work orders and engineers are scoped to a partner without a join."""

    __tablename__ = "engineers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    home_region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    home_address: Mapped[str | None] = mapped_column(String(300))
    home_longitude: Mapped[float] = mapped_column(Float)
    home_latitude: Mapped[float] = mapped_column(Float)
    # division codes served: a province ("370000"), city ("370100") or county code; empty means anywhere
    regions_served: Mapped[list[str]] = mapped_column(JSON, default=list)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id"), index=True)
    max_orders_per_day: Mapped[int] = mapped_column(Integer, default=4)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EngineerCertification(CreatedAt, Base):
    """A certificate an engineer holds (e.g. 电工证, CISP); expired ones do not qualify for orders needing them."""

    __tablename__ = "engineer_certifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    engineer_id: Mapped[int] = mapped_column(ForeignKey("engineers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    number: Mapped[str | None] = mapped_column(String(64))
    expires_on: Mapped[date | None]


class EngineerAbsence(CreatedAt, Base):
    """Leave, training or an outside booking: the engineer cannot be dispatched in [starts_at, ends_at)."""

    __tablename__ = "engineer_absences"

    id: Mapped[int] = mapped_column(primary_key=True)
    engineer_id: Mapped[int] = mapped_column(ForeignKey("engineers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # leave | training | booked
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(String(300))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class CustomerSite(CreatedAt, Base):
    """A place where a customer has equipment to support; coverage is measured against these."""

    __tablename__ = "customer_sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    longitude: Mapped[float] = mapped_column(Float)
    latitude: Mapped[float] = mapped_column(Float)
    required_skills: Mapped[list[str]] = mapped_column(JSON, default=list)


class WorkOrder(CreatedAt, Base):
    """A visit: from a ticket that needs one (arrival due from its on-site clock) or on its own for planned
    maintenance. States: proposed -> assigned -> accepted -> travelling -> on_site -> done, or cancelled."""

    __tablename__ = "work_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    customer_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("customer_sites.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="repair")  # repair | maintenance | installation
    priority: Mapped[str] = mapped_column(String(2), index=True)  # P1..P4
    status: Mapped[str] = mapped_column(String(16), index=True, default="proposed")
    site_region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    site_address: Mapped[str | None] = mapped_column(String(300))
    site_longitude: Mapped[float] = mapped_column(Float)
    site_latitude: Mapped[float] = mapped_column(Float)
    required_skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    required_certification: Mapped[str | None] = mapped_column(String(64))
    estimated_minutes: Mapped[int] = mapped_column(Integer, default=120)  # expected time on site
    earliest_start_at: Mapped[datetime]
    arrival_due_at: Mapped[datetime | None] = mapped_column(index=True)
    engineer_id: Mapped[int | None] = mapped_column(ForeignKey("engineers.id"), index=True)
    # the engineer's organization (operator or partner) while assigned: partners see orders by this
    assigned_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime | None]
    planned_arrival_at: Mapped[datetime | None]
    travel_minutes: Mapped[int | None] = mapped_column(Integer)
    distance_km: Mapped[float | None] = mapped_column(Float)
    accepted_at: Mapped[datetime | None]
    travel_started_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    checked_out_at: Mapped[datetime | None]
    work_notes: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    confirmed_at: Mapped[datetime | None]
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmation_comment: Mapped[str | None] = mapped_column(Text)
    confirmation_rating: Mapped[int | None] = mapped_column(Integer)  # 1..5
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WorkOrderEvent(Base):
    """The work order's timeline: state changes, assignments and overrides, with who and when."""

    __tablename__ = "work_order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(24))  # created | status | assigned | override | note | confirmed
    from_value: Mapped[str | None] = mapped_column(String(64))
    to_value: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[str | None] = mapped_column(Text)


class DispatchPlan(CreatedAt, Base):
    """One optimizer round over the open orders and free engineers; its proposals wait for a dispatcher."""

    __tablename__ = "dispatch_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    planned_at: Mapped[datetime]  # the "now" the plan was computed for
    order_count: Mapped[int] = mapped_column(Integer, default=0)
    engineer_count: Mapped[int] = mapped_column(Integer, default=0)
    on_time_count: Mapped[int] = mapped_column(Integer, default=0)
    late_count: Mapped[int] = mapped_column(Integer, default=0)
    unassigned_count: Mapped[int] = mapped_column(Integer, default=0)
    travel_minutes: Mapped[int] = mapped_column(Integer, default=0)
    solve_ms: Mapped[int] = mapped_column(Integer, default=0)


class DispatchProposal(CreatedAt, Base):
    """The optimizer's suggestion for one order, with its explanation. `engineer_id` is NULL when no
    qualified engineer is free (the explanation says why). Status: pending | accepted | rejected | superseded."""

    __tablename__ = "dispatch_proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("dispatch_plans.id"), index=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    engineer_id: Mapped[int | None] = mapped_column(ForeignKey("engineers.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default="pending")
    distance_km: Mapped[float | None] = mapped_column(Float)
    travel_minutes: Mapped[int | None] = mapped_column(Integer)
    arrival_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    # {"skills_matched": [...], "certification": ..., "runner_up": {...} | null, "reasons": [...]}
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(String(300))
