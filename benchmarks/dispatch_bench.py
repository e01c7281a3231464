"""Dispatch benchmark: the optimizer's plan against the greedy baseline, side by side in one run.

2,000 open work orders and 5,000 engineers spread over China's counties (the division table shipped in
`cpca`, through `huoban.regions.data`; no database). Engineers get 2-4 random skills out of seven, most serve
their own province or city, some anywhere; electricians' and security certificates, a share of them expired;
leave, training and bookings; busy engineers free later in the day; some with no capacity left. Orders need
one or two skills (power work an electrician's certificate, some security work CISP), with arrival due times
from the standard P1-P3 on-site targets counted in wall-clock minutes from when the ticket came in (P4:
planned maintenance, no due time).

`optimizer.plan` (linear_sum_assignment: fewest orders with a due time missing it first, the least urgent of
those, then the fewest unassigned weighted by priority, then travel) and `optimizer.greedy_plan` (each order
in urgency order takes the nearest free qualified engineer) solve the same inputs; both times include building
the feasibility and travel estimates. "on time" counts on-time arrivals among the orders with a due time (the
P4s have none); "late" and "unassigned" count every order. Seeded: the same figures on every run.

    .venv/bin/python benchmarks/dispatch_bench.py [--orders 2000] [--engineers 5000] [--seed 20260601]

The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from huoban.dispatch.optimizer import greedy_plan, plan
from huoban.dispatch.planning import EngineerInput, OrderInput, PlanResult
from huoban.dispatch.travel import TravelModel
from huoban.regions.data import division_rows

SEED = 20260601
NOW = datetime(2026, 6, 1, 1, 30, tzinfo=UTC)  # 09:30 in China
SKILLS = ("network", "storage", "database", "power_scada", "security", "server", "power")
ON_SITE_MINUTES = {"P1": 240, "P2": 480, "P3": 1440}  # the standard policy's on-site targets
PRIORITIES = (("P1", 0.15), ("P2", 0.3), ("P3", 0.35), ("P4", 0.2))


def counties() -> list[dict[str, Any]]:
    return [r for r in division_rows() if r["level"] == "county" and not r["placeholder"]]


def _jitter(rng: random.Random, county: dict[str, Any]) -> tuple[float, float]:
    """A point within a few kilometres of the county seat."""
    return county["longitude"] + rng.uniform(-0.05, 0.05), county["latitude"] + rng.uniform(-0.05, 0.05)


def make_engineers(rng: random.Random, places: list[dict[str, Any]], count: int) -> list[EngineerInput]:
    partners = [(100 + k, f"伙伴{k:02d}") for k in range(40)]
    engineers = []
    for j in range(count):
        county = rng.choice(places)
        lon, lat = _jitter(rng, county)
        skills = frozenset(rng.sample(SKILLS, rng.randint(2, 4)))
        certs: dict[str, date | None] = {}
        if skills & {"power", "power_scada"} and rng.random() < 0.8:
            certs["电工证"] = (NOW + timedelta(days=rng.choice((-30, -1, 0, 1, 200, 700)))).date()
        if "security" in skills and rng.random() < 0.6:
            certs["CISP"] = None if rng.random() < 0.5 else (NOW + timedelta(days=rng.randint(-60, 400))).date()
        roll = rng.random()
        code = county["code"]
        served: tuple[str, ...] = (
            (code[:2] + "0000",) if roll < 0.6 else (code[:4] + "00", code) if roll < 0.85 else ()
        )
        absences: tuple[tuple[datetime, datetime], ...] = ()
        if rng.random() < 0.12:
            start = NOW + timedelta(minutes=rng.randint(-24 * 60, 36 * 60))
            absences = ((start, start + timedelta(minutes=rng.randint(4 * 60, 72 * 60))),)
        available = NOW + timedelta(minutes=rng.choice((0, 0, 0, 0, 60, 120, 240)))
        org_id, org_name = (1, "运营方") if not served else rng.choice(partners)
        engineers.append(EngineerInput(
            id=j + 1, name=f"工程师{j + 1:04d}", org_id=org_id, org_name=org_name, longitude=lon, latitude=lat,
            skills=skills, certifications=certs, available_from=available, absences=absences,
            regions_served=served, capacity_left=0 if rng.random() < 0.05 else rng.randint(1, 4),
        ))
    return engineers


def make_orders(rng: random.Random, places: list[dict[str, Any]], count: int) -> list[OrderInput]:
    orders = []
    for i in range(count):
        county = rng.choice(places)
        lon, lat = _jitter(rng, county)
        priority = rng.choices([p for p, _ in PRIORITIES], [w for _, w in PRIORITIES])[0]
        skills = frozenset(rng.sample(SKILLS, rng.choice((1, 1, 2))))
        cert = None
        if skills & {"power", "power_scada"} and rng.random() < 0.6:
            cert = "电工证"
        elif "security" in skills and rng.random() < 0.3:
            cert = "CISP"
        if priority == "P4":
            start = NOW + timedelta(hours=rng.randint(2, 48))
            due = None
        else:
            start = NOW
            opened = NOW - timedelta(minutes=rng.randint(0, ON_SITE_MINUTES[priority] // 3))
            due = opened + timedelta(minutes=ON_SITE_MINUTES[priority])
        orders.append(OrderInput(
            id=i + 1, title=f"工单{i + 1:04d}", priority=priority, longitude=lon, latitude=lat,
            region_code=county["code"], required_skills=skills, required_certification=cert,
            earliest_start=start, due_at=due, estimated_minutes=rng.choice((60, 120, 180, 240)),
        ))
    return orders


def summary(result: PlanResult) -> dict[str, Any]:
    assigned = [p for p in result.proposals if p.chosen is not None]
    return {
        "on_time": result.on_time_due,
        "late": sum(1 for p in assigned if p.chosen is not None and p.chosen.on_time is False),
        "unassigned": len(result.proposals) - len(assigned),
        "travel_h": round(result.travel_minutes / 60, 1),
        "seconds": round(result.solve_seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--engineers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    places = counties()
    engineers = make_engineers(rng, places, args.engineers)
    orders = make_orders(rng, places, args.orders)
    travel = TravelModel()
    print(f"{len(orders)} orders, {len(engineers)} engineers over {len(places)} counties; {travel}")

    plan(orders[:50], engineers[:200], NOW, travel)  # warm up imports and caches outside the timing
    optimized = summary(plan(orders, engineers, NOW, travel))
    greedy = summary(greedy_plan(orders, engineers, NOW, travel))

    print(f"{'':12}{'on time':>9}{'late':>7}{'unassigned':>12}{'travel h':>11}{'seconds':>10}")
    for name, row in (("optimizer", optimized), ("greedy", greedy)):
        print(f"{name:12}{row['on_time']:>9}{row['late']:>7}{row['unassigned']:>12}{row['travel_h']:>11}"
              f"{row['seconds']:>10}")
    print(json.dumps({
        "orders": len(orders), "engineers": len(engineers), "seed": args.seed,
        "optimizer_on_time": optimized["on_time"], "greedy_on_time": greedy["on_time"],
        "optimizer_late": optimized["late"], "greedy_late": greedy["late"],
        "optimizer_unassigned": optimized["unassigned"], "greedy_unassigned": greedy["unassigned"],
        "optimizer_travel_h": optimized["travel_h"], "greedy_travel_h": greedy["travel_h"],
        "optimizer_s": optimized["seconds"], "greedy_s": greedy["seconds"],
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
