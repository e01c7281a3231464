"""The dispatch optimizer: which free engineer goes to which open work order this round.

`plan` solves one assignment problem with SciPy's `linear_sum_assignment` (at most one order per engineer per
round). Its objective is lexicographic, in this order:

1. the fewest orders WITH a due time that do not get an on-time arrival (late or unassigned alike),
2. then, among those, the least urgent ones (`priority_rank`: a P1 missing its target weighs 3, a P4 0), so a
   P1 is not sent a late engineer while the one who could reach it in time takes a P3 due in two days,
3. then the fewest unassigned orders, each weighted by 1 + its priority rank (a P1 left waiting costs 4, a P4
   1): an order served late beats an order not served, and a P4 waits before a P1 does,
4. then the least total travel time.

An order without a due time never counts as a miss: leaving it unassigned costs only tier 3. So no other
one-per-engineer assignment of the same orders has more on-time arrivals among the orders with a due time
(`PlanResult.on_time_due`), and `greedy_plan` (each order in urgency order takes the nearest free qualified
engineer) is such an assignment.

An engineer qualifies for an order when they hold every required skill; hold the required certification and
it has not expired on the arrival date (China time); serve the order's region (`regions_served` entries are
prefixes: "370000" covers 37xxxx, "370100" covers 3701xx, a county code itself; empty means anywhere); have
capacity left today; and no absence overlaps the trip window [departure, arrival + estimated time on site).
Departure is max(now, earliest start - travel, available from): nobody arrives before the earliest start.
When that trip window runs into the engineer's off-duty time (evening, weekend), the trip sets off when the
off-duty time ends instead, so an office-hours engineer asked at 17:00 for a four-hour job is proposed for the
next working morning, provided that still arrives by the due time (or the order has none) and sets off within a
week; otherwise the engineer does not qualify, as before (`departure`, the same rule for one pair).

Unassigned orders carry machine-readable reasons "code" or "code:param,param" (see `REASONS`,
`parse_reason`); an assigned late order carries "late:<minutes>", and one whose engineer sets off from the
site of a current job (`EngineerInput.from_work_order_id`) "from_site:<work order id>".
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from huoban.dispatch.planning import Candidate, EngineerInput, OrderInput, PlanResult, ProposalResult
from huoban.dispatch.travel import TravelModel, great_circle_km_array

REASONS = {
    "missing_skill": "no engineer holds these skills (params: the skills)",
    "missing_skill_combination": "no engineer holds all of these skills together (params: the skills)",
    "missing_certification": "no engineer with the skills holds the certification (param: its name)",
    "region_not_served": "no qualified engineer serves the site's division (param: the division code)",
    "no_capacity": "every qualified engineer has reached the day's maximum of work orders",
    "certification_expired": "every qualified engineer's certificate has expired by the arrival (param: name)",
    "on_leave_or_busy": "every qualified engineer is on leave, in training or booked during the trip",
    "engineers_taken": "the qualified engineers are proposed for other orders (param: how many qualify)",
    "late": "assigned, but arrives after the due time (param: minutes late)",
    "from_site": "assigned; the trip starts from the site of the engineer's current work order (param: its id)",
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US_PER_MIN = 60_000_000
_US_PER_DAY = 86_400_000_000
_CN_OFFSET_US = 8 * 3_600_000_000  # China has kept UTC+8 without daylight saving since 1991
_EPOCH_ORDINAL = _EPOCH.date().toordinal()
_NEVER_EXPIRES = np.iinfo(np.int64).max
_NOT_HELD = -1
_NO_END = np.iinfo(np.int64).min
_SHIFTS = 4  # how many off-duty gaps in a row a trip may be moved past (a night, a weekend, a holiday)
_LATEST_DEPARTURE = timedelta(days=7)


def reason(code: str, *params: object) -> str:
    return f"{code}:{','.join(str(p) for p in params)}" if params else code


def parse_reason(text: str) -> dict[str, object]:
    """"missing_skill:network,power" -> {"code": "missing_skill", "params": ["network", "power"]}."""
    code, _, rest = text.partition(":")
    return {"code": code, "params": rest.split(",") if rest else []}


def _us(when: datetime) -> int:
    if when.tzinfo is None:
        raise ValueError("the optimizer needs timezone-aware datetimes")
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _instant(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


@dataclass
class _Pairs:
    """Every qualified (order, engineer) pair with its estimate, sorted by order and then by rank
    (minutes late, travel minutes, engineer id), plus per-order counts after each filter for the reasons."""

    oi: NDArray[np.int64]
    ej: NDArray[np.int64]
    distance_km: NDArray[np.float64]
    travel_min: NDArray[np.int64]
    arrival_us: NDArray[np.int64]
    late: NDArray[np.bool_]
    late_min: NDArray[np.int64]
    starts: NDArray[np.int64]  # segment of order i: [starts[i], starts[i + 1])
    stage_counts: NDArray[np.int64]  # (6, n): skills, + certification held, + region, + capacity, + valid, + free


def skills_matrix(required: Sequence[frozenset[str]], held: Sequence[frozenset[str]]) -> NDArray[np.bool_]:
    """[i, j]: `held[j]` includes every skill of `required[i]` (skills as bitmasks, 63 to a word)."""
    vocab = sorted({s for r in required for s in r})
    words = max(1, (len(vocab) + 62) // 63)
    index = {s: k for k, s in enumerate(vocab)}
    req = np.zeros((words, len(required)), dtype=np.int64)
    have = np.zeros((words, len(held)), dtype=np.int64)
    for i, skills in enumerate(required):
        for s in skills:
            req[index[s] // 63, i] |= 1 << (index[s] % 63)
    for j, skills in enumerate(held):
        for s in skills:
            if s in index:
                have[index[s] // 63, j] |= 1 << (index[s] % 63)
    ok = np.ones((len(required), len(held)), dtype=bool)
    for w in range(words):
        ok &= (req[w][:, None] & ~have[w][None, :]) == 0
    return ok


def _certification_table(orders: Sequence[OrderInput], engineers: Sequence[EngineerInput]
                         ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Row index per order (0: no certification needed) and a table of expiry day ordinals per engineer."""
    names = sorted({o.required_certification for o in orders if o.required_certification})
    row = {name: k + 1 for k, name in enumerate(names)}
    table = np.full((len(names) + 1, len(engineers)), _NOT_HELD, dtype=np.int64)
    table[0, :] = _NEVER_EXPIRES
    for j, e in enumerate(engineers):
        for name, expires in e.certifications.items():
            if name in row:
                table[row[name], j] = _NEVER_EXPIRES if expires is None else expires.toordinal()
    idx = np.array([row.get(o.required_certification or "", 0) for o in orders], dtype=np.int64)
    return idx, table


def regions_matrix(codes: Sequence[str], served: Sequence[Sequence[str]]) -> NDArray[np.bool_]:
    """[i, j]: division `codes[i]` is served by an engineer serving `served[j]` (prefix rules in the module
    docstring; an empty list serves anywhere)."""
    ints = np.array([int(c) if len(c) == 6 and c.isdigit() else -1 for c in codes], dtype=np.int64)
    keys = np.stack([ints // 10_000, ints // 100, ints])  # province, city, county prefixes of each code
    ok = np.zeros((len(codes), len(served)), dtype=bool)
    ok[:, [j for j, entries in enumerate(served) if not entries]] = True
    for r in range(max((len(entries) for entries in served), default=0)):
        cols, level, value = [], [], []
        for j, entries in enumerate(served):
            if len(entries) > r and len(entries[r]) == 6 and entries[r].isdigit():
                code = entries[r]
                lv = 0 if code.endswith("0000") else 1 if code.endswith("00") else 2
                cols.append(j)
                level.append(lv)
                value.append(int(code) // (10_000, 100, 1)[lv])
        if cols:
            ok[:, np.array(cols)] |= np.array(value)[None, :] == keys[np.array(level)].T
    return ok


def _evaluate(orders: Sequence[OrderInput], engineers: Sequence[EngineerInput], now: datetime,
              travel: TravelModel) -> _Pairs:
    n = len(orders)
    cert_idx, cert_table = _certification_table(orders, engineers)
    stage = [skills_matrix([o.required_skills for o in orders], [e.skills for e in engineers])]
    stage.append(stage[-1] & (cert_table != _NOT_HELD)[cert_idx])
    stage.append(stage[-1] & regions_matrix([o.region_code for o in orders], [e.regions_served for e in engineers]))
    capacity = np.array([e.capacity_left >= 1 for e in engineers], dtype=bool)
    stage.append(stage[-1] & capacity[None, :])
    counts = np.zeros((6, n), dtype=np.int64)
    for k, s in enumerate(stage):
        counts[k] = s.sum(axis=1)
    oi, ej = np.nonzero(stage[-1])
    oi, ej = oi.astype(np.int64), ej.astype(np.int64)

    o_lon = np.array([o.longitude for o in orders], dtype=np.float64)
    o_lat = np.array([o.latitude for o in orders], dtype=np.float64)
    e_lon = np.array([e.longitude for e in engineers], dtype=np.float64)
    e_lat = np.array([e.latitude for e in engineers], dtype=np.float64)
    dist = great_circle_km_array(e_lon[ej], e_lat[ej], o_lon[oi], o_lat[oi])
    minutes = travel.minutes_array(dist)
    travel_us = minutes * _US_PER_MIN

    now_us = _us(now)
    start_us = np.array([_us(o.earliest_start) for o in orders], dtype=np.int64)
    avail_us = np.array([_us(e.available_from) for e in engineers], dtype=np.int64)
    stay_us = np.array([o.estimated_minutes for o in orders], dtype=np.int64) * _US_PER_MIN
    depart = np.maximum(np.maximum(start_us[oi] - travel_us, avail_us[ej]), now_us)
    has_due = np.array([o.due_at is not None for o in orders], dtype=bool)
    due_us = np.array([_us(o.due_at) if o.due_at is not None else 0 for o in orders], dtype=np.int64)
    depart = _past_off_duty(depart, travel_us + stay_us[oi], travel_us, ej, engineers,
                            np.where(has_due[oi], due_us[oi], np.iinfo(np.int64).max), now_us)
    arrive = depart + travel_us
    leave = arrive + stay_us[oi]

    arrival_day = (arrive + _CN_OFFSET_US) // _US_PER_DAY + _EPOCH_ORDINAL
    valid = cert_table[cert_idx[oi], ej] >= arrival_day
    counts[4] = np.bincount(oi[valid], minlength=n)

    busy = np.zeros(len(oi), dtype=bool)
    depth = max((len(e.absences) for e in engineers), default=0)
    if depth:
        a_start, a_end = _interval_table([e.absences for e in engineers])
        for r in range(depth):
            busy |= (depart < a_end[ej, r]) & (a_start[ej, r] < leave)
    busy |= _overlap_end(depart, leave, ej, *_interval_table([e.off_duty for e in engineers])) != _NO_END
    keep = valid & ~busy
    counts[5] = np.bincount(oi[keep], minlength=n)

    oi, ej, dist, minutes, arrive = oi[keep], ej[keep], dist[keep], minutes[keep], arrive[keep]
    late = has_due[oi] & (arrive > due_us[oi])
    over = arrive - due_us[oi]
    late_min = np.where(late, -(-over // _US_PER_MIN), 0).astype(np.int64)

    ids = np.array([e.id for e in engineers], dtype=np.int64)
    rank = np.lexsort((ids[ej], minutes, late_min, oi))
    oi = oi[rank]
    starts = np.searchsorted(oi, np.arange(n + 1)).astype(np.int64)
    return _Pairs(oi, ej[rank], dist[rank], minutes[rank], arrive[rank], late[rank], late_min[rank], starts, counts)


def _interval_table(per_engineer: Sequence[Sequence[tuple[datetime, datetime]]]
                    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(starts, ends) as (engineers, most intervals) arrays of microseconds; empty slots never overlap."""
    depth = max((len(x) for x in per_engineer), default=0)
    starts = np.zeros((len(per_engineer), depth), dtype=np.int64)
    ends = np.full((len(per_engineer), depth), _NO_END, dtype=np.int64)
    for j, intervals in enumerate(per_engineer):
        for r, (begins, finishes) in enumerate(intervals):
            starts[j, r], ends[j, r] = _us(begins), _us(finishes)
    return starts, ends


def _overlap_end(depart: NDArray[np.int64], leave: NDArray[np.int64], ej: NDArray[np.int64],
                 starts: NDArray[np.int64], ends: NDArray[np.int64]) -> NDArray[np.int64]:
    """For each pair, the latest end of the engineer's intervals overlapping [depart, leave); _NO_END if none."""
    until = np.full(len(depart), _NO_END, dtype=np.int64)
    for r in range(starts.shape[1]):
        hit = (depart < ends[ej, r]) & (starts[ej, r] < leave)
        until = np.where(hit, np.maximum(until, ends[ej, r]), until)
    return until


def _past_off_duty(depart: NDArray[np.int64], window: NDArray[np.int64], travel: NDArray[np.int64],
                   ej: NDArray[np.int64], engineers: Sequence[EngineerInput], due: NDArray[np.int64],
                   now_us: int) -> NDArray[np.int64]:
    """The departures moved past off-duty time where that still arrives by the due time (module docstring);
    the others unchanged. `window` is travel + time on site, `due` the order's due time (int64 max if none)."""
    if not any(e.off_duty for e in engineers):
        return depart
    starts, ends = _interval_table([e.off_duty for e in engineers])
    moved = depart.copy()
    for _ in range(_SHIFTS):
        until = _overlap_end(moved, moved + window, ej, starts, ends)
        if not (until != _NO_END).any():
            break
        moved = np.where(until != _NO_END, until, moved)
    latest = now_us + int(_LATEST_DEPARTURE / timedelta(microseconds=1))
    ok = ((_overlap_end(moved, moved + window, ej, starts, ends) == _NO_END) & (moved <= latest)
          & (moved + travel <= due))
    return np.where(ok, moved, depart)


def departure(order: OrderInput, engineer: EngineerInput, now: datetime, travel_minutes: int) -> datetime:
    """When the engineer sets off for the order: the rule of the module docstring for one pair, as `_evaluate`
    applies it to all pairs at once (the dispatcher's manual assignment reports its window with it)."""
    trip, stay = timedelta(minutes=travel_minutes), timedelta(minutes=order.estimated_minutes)
    first = max(now, order.earliest_start - trip, engineer.available_from)

    def overlap_end(at: datetime) -> datetime | None:
        return max((end for start, end in engineer.off_duty if at < end and start < at + trip + stay), default=None)

    moved = first
    for _ in range(_SHIFTS):
        until = overlap_end(moved)
        if until is None:
            break
        moved = until
    if overlap_end(moved) is None and moved <= now + _LATEST_DEPARTURE and (
            order.due_at is None or moved + trip <= order.due_at):
        return moved
    return first


def _candidate(pairs: _Pairs, k: int, order: OrderInput, engineers: Sequence[EngineerInput]) -> Candidate:
    e = engineers[int(pairs.ej[k])]
    return Candidate(
        engineer_id=e.id,
        engineer_name=e.name,
        org_name=e.org_name,
        distance_km=round(float(pairs.distance_km[k]), 1),
        travel_minutes=int(pairs.travel_min[k]),
        arrival_at=_instant(int(pairs.arrival_us[k])),
        on_time=None if order.due_at is None else not bool(pairs.late[k]),
        late_minutes=int(pairs.late_min[k]),
        skills_matched=tuple(sorted(order.required_skills)),
        from_work_order_id=e.from_work_order_id,
    )


def _unqualified_reason(i: int, order: OrderInput, counts: NDArray[np.int64],
                        engineers: Sequence[EngineerInput]) -> str:
    c = counts[:, i]
    if c[0] == 0:
        held = {s for e in engineers for s in e.skills}
        missing = sorted(order.required_skills - held)
        if missing:
            return reason("missing_skill", *missing)
        return reason("missing_skill_combination", *sorted(order.required_skills))
    if c[1] == 0:
        return reason("missing_certification", order.required_certification)
    if c[2] == 0:
        return reason("region_not_served", order.region_code)
    if c[3] == 0:
        return reason("no_capacity")
    if c[4] == 0:
        return reason("certification_expired", order.required_certification)
    return reason("on_leave_or_busy")


def _results(orders: Sequence[OrderInput], engineers: Sequence[EngineerInput], pairs: _Pairs,
             chosen: dict[int, int], started: float) -> PlanResult:
    """Proposals in the orders' input order; `chosen` maps order index to the index of its pair."""
    proposals = []
    for i, order in enumerate(orders):
        lo, hi = int(pairs.starts[i]), int(pairs.starts[i + 1])
        k = chosen.get(i)
        pick = None if k is None else _candidate(pairs, k, order, engineers)
        runner = next((p for p in range(lo, min(hi, lo + 2)) if p != k), None)
        reasons: list[str] = []
        if pick is None:
            reasons.append(_unqualified_reason(i, order, pairs.stage_counts, engineers) if hi == lo
                           else reason("engineers_taken", hi - lo))
        else:
            if pick.on_time is False:
                reasons.append(reason("late", pick.late_minutes))
            if pick.from_work_order_id is not None:
                reasons.append(reason("from_site", pick.from_work_order_id))
        proposals.append(ProposalResult(
            order_id=order.id,
            chosen=pick,
            runner_up=None if runner is None or pick is None else _candidate(pairs, runner, order, engineers),
            due_at=order.due_at,
            qualified_count=hi - lo,
            reasons=reasons,
        ))
    return PlanResult(proposals=proposals, solve_seconds=time.perf_counter() - started)


def plan(orders: list[OrderInput], engineers: list[EngineerInput], now: datetime, travel: TravelModel) -> PlanResult:
    """The assignment that is best by the objective in the module docstring (exact, one engineer per order)."""
    started = time.perf_counter()
    pairs = _evaluate(orders, engineers, now, travel)
    chosen: dict[int, int] = {}
    if len(pairs.oi):
        rows, row_pos = np.unique(pairs.oi, return_inverse=True)
        cols, col_pos = np.unique(pairs.ej, return_inverse=True)
        travel_bound = int(pairs.travel_min.max()) + 1
        n = len(rows)
        ranks = np.array([priority_rank(orders[int(i)]) for i in rows], dtype=float)
        has_due = np.array([orders[int(i)].due_at is not None for i in rows], dtype=bool)
        # each weight exceeds the largest possible total of every lower tier
        unassigned_weight = float(n * travel_bound + 1)  # tier 3 over tier 4 (total travel)
        rank_weight = (float((1 + ranks).sum()) + 1) * unassigned_weight  # tier 2 over tiers 3 and 4
        late_weight = (float(ranks[has_due].sum()) + 1) * rank_weight  # tier 1 over tiers 2 to 4
        miss = np.where(has_due, late_weight + ranks * rank_weight, 0.0)  # no on-time arrival for a due order
        cost = np.full((n, len(cols) + n), np.inf)
        cost[:, len(cols):] = (miss + unassigned_weight * (1 + ranks))[:, None]
        cost[row_pos, col_pos] = pairs.travel_min + np.where(pairs.late, miss[row_pos], 0.0)
        r, c = linear_sum_assignment(cost)
        for a, b in zip(r, c, strict=True):
            if b < len(cols):
                i = int(rows[a])
                lo, hi = int(pairs.starts[i]), int(pairs.starts[i + 1])
                chosen[i] = lo + int(np.flatnonzero(pairs.ej[lo:hi] == cols[b])[0])
    return _results(orders, engineers, pairs, chosen, started)


def priority_rank(order: OrderInput) -> int:
    """How much an order missing its target weighs among orders that miss: P1 3, P2 2, P3 1, P4 (or other) 0;
    an unassigned order weighs 1 + its rank."""
    return {"P1": 3, "P2": 2, "P3": 1}.get(order.priority, 0)


def urgency_key(order: OrderInput) -> tuple[bool, datetime, str, int]:
    """Earliest due first (orders without a due time last), then P1 before P2, then by id."""
    return (order.due_at is None, order.due_at or _EPOCH, order.priority, order.id)


def greedy_plan(orders: list[OrderInput], engineers: list[EngineerInput], now: datetime,
                travel: TravelModel) -> PlanResult:
    """The baseline: each order in urgency order takes the nearest free qualified engineer."""
    started = time.perf_counter()
    pairs = _evaluate(orders, engineers, now, travel)
    taken = np.zeros(len(engineers), dtype=bool)
    chosen: dict[int, int] = {}
    for i in sorted(range(len(orders)), key=lambda i: urgency_key(orders[i])):
        lo, hi = int(pairs.starts[i]), int(pairs.starts[i + 1])
        if lo == hi:
            continue
        free = ~taken[pairs.ej[lo:hi]]
        if not free.any():
            continue
        dist = np.where(free, pairs.distance_km[lo:hi], np.inf)
        k = lo + int(np.argmin(dist))
        chosen[i] = k
        taken[pairs.ej[k]] = True
    return _results(orders, engineers, pairs, chosen, started)


def candidates(order: OrderInput, engineers: list[EngineerInput], now: datetime, travel: TravelModel,
               limit: int = 10) -> list[Candidate]:
    """Qualified engineers for one order, best first: least late, then least travel (the dispatcher's pick list)."""
    pairs = _evaluate([order], engineers, now, travel)
    return [_candidate(pairs, k, order, engineers) for k in range(min(limit, len(pairs.oi)))]


def unqualified_reason(order: OrderInput, engineers: list[EngineerInput], now: datetime,
                       travel: TravelModel) -> str | None:
    """Why no engineer qualifies for `order` (a reason string), or None when someone does."""
    pairs = _evaluate([order], engineers, now, travel)
    return None if len(pairs.oi) else _unqualified_reason(0, order, pairs.stage_counts, engineers)
