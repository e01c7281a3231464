"""The optimizer's inputs and outputs as plain values, so it runs the same for the API, the CLI and the
benchmark, with no database in reach. The dispatch service builds these from rows; `optimizer.plan` solves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class EngineerInput:
    id: int
    name: str
    org_id: int
    org_name: str
    longitude: float
    latitude: float
    skills: frozenset[str]
    certifications: dict[str, date | None]  # name -> expires_on (None: does not expire)
    # the earliest instant the engineer can leave: now, or the end of a current absence, or the next
    # working instant of the engineer's calendar (the service computes it)
    available_from: datetime
    absences: tuple[tuple[datetime, datetime], ...] = ()  # [start, end) intervals ahead
    # [start, end) gaps between the calendar's working intervals: a trip that runs into one may set off when it
    # ends instead, if it still arrives by the due time (see `optimizer.departure`)
    off_duty: tuple[tuple[datetime, datetime], ...] = ()
    regions_served: tuple[str, ...] = ()  # division codes (province/city/county); empty = anywhere
    capacity_left: int = 1  # orders the engineer may still take today; 0 makes them unavailable
    # the work order the engineer is travelling to or on site at: longitude/latitude are its site, and trips
    # start there (available_from is then after it); None: from the home base
    from_work_order_id: int | None = None


@dataclass(frozen=True)
class OrderInput:
    id: int
    title: str
    priority: str  # P1..P4
    longitude: float
    latitude: float
    region_code: str
    required_skills: frozenset[str]
    required_certification: str | None
    earliest_start: datetime
    due_at: datetime | None  # arrival due (the ticket's on-site clock); None: no target
    estimated_minutes: int = 120


@dataclass(frozen=True)
class Candidate:
    """One engineer's estimate for one order."""

    engineer_id: int
    engineer_name: str
    org_name: str
    distance_km: float
    travel_minutes: int
    arrival_at: datetime
    on_time: bool | None  # None when the order has no due time
    late_minutes: int
    skills_matched: tuple[str, ...]
    from_work_order_id: int | None = None  # the trip starts from this order's site (else the home base)


@dataclass
class ProposalResult:
    order_id: int
    chosen: Candidate | None
    runner_up: Candidate | None
    due_at: datetime | None
    qualified_count: int  # engineers who met skills, certification, region, capacity and availability
    reasons: list[str] = field(default_factory=list)  # why unassigned, or notes (e.g. "late by 35 min")


@dataclass
class PlanResult:
    proposals: list[ProposalResult]
    solve_seconds: float

    @property
    def on_time(self) -> int:
        """Assigned orders that are not late (an order without a due time counts once served)."""
        return sum(1 for p in self.proposals if p.chosen is not None and p.chosen.on_time is not False)

    @property
    def on_time_due(self) -> int:
        """On-time arrivals among the orders with a due time (what the optimizer maximises first)."""
        return sum(1 for p in self.proposals if p.chosen is not None and p.chosen.on_time is True)

    @property
    def travel_minutes(self) -> int:
        return sum(p.chosen.travel_minutes for p in self.proposals if p.chosen is not None)
