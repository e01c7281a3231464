"""The dispatch optimizer on plain values: every constraint, the explanation, and properties against brute force."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from huoban.dispatch.optimizer import (
    REASONS,
    candidates,
    departure,
    greedy_plan,
    parse_reason,
    plan,
    reason,
    unqualified_reason,
)
from huoban.dispatch.planning import EngineerInput, OrderInput, PlanResult, ProposalResult
from huoban.dispatch.travel import TravelModel, great_circle_km

NOW = datetime(2026, 6, 1, 1, 30, tzinfo=UTC)  # 09:30 China time
TRAVEL = TravelModel()
# (longitude, latitude, county code)
LIXIA = (117.0769, 36.6663, "370102")  # 济南市历下区
ZHANGQIU = (117.5263, 36.6812, "370114")  # 济南市章丘区
SHINAN = (120.3880, 36.0715, "370202")  # 青岛市市南区
TAI_AN = (117.0876, 36.2002, "370902")  # 泰安市泰山区
PINGYIN = (116.4560, 36.2893, "370124")  # 济南市平阴县


def engineer(eid: int, place: tuple[float, float, str] = LIXIA, skills: tuple[str, ...] = ("network",),
             **fields: object) -> EngineerInput:
    values: dict[str, object] = {
        "id": eid, "name": f"E{eid}", "org_id": 1, "org_name": "伙伴", "longitude": place[0], "latitude": place[1],
        "skills": frozenset(skills), "certifications": {}, "available_from": NOW,
    }
    values.update(fields)
    return EngineerInput(**values)  # type: ignore[arg-type]


def order(oid: int, place: tuple[float, float, str] = LIXIA, skills: tuple[str, ...] = ("network",),
          due_minutes: int | None = 240, **fields: object) -> OrderInput:
    values: dict[str, object] = {
        "id": oid, "title": f"O{oid}", "priority": "P1", "longitude": place[0], "latitude": place[1],
        "region_code": place[2], "required_skills": frozenset(skills), "required_certification": None,
        "earliest_start": NOW, "due_at": None if due_minutes is None else NOW + timedelta(minutes=due_minutes),
    }
    values.update(fields)
    return OrderInput(**values)  # type: ignore[arg-type]


def only(result: PlanResult) -> ProposalResult:
    assert len(result.proposals) == 1
    return result.proposals[0]


def minutes_between(a: tuple[float, float, str], b: tuple[float, float, str]) -> int:
    return TRAVEL.minutes(great_circle_km(a[0], a[1], b[0], b[1]))


def test_skills_all_required_skills_must_be_held() -> None:
    near = engineer(1, LIXIA, ("network",))
    far = engineer(2, ZHANGQIU, ("network", "storage"))
    proposal = only(plan([order(1, skills=("network", "storage"))], [near, far], NOW, TRAVEL))
    assert proposal.chosen is not None and proposal.chosen.engineer_id == 2
    assert proposal.chosen.skills_matched == ("network", "storage")
    assert proposal.qualified_count == 1

    nobody = only(plan([order(2, skills=("database", "network"))], [near, far], NOW, TRAVEL))
    assert nobody.chosen is None and nobody.qualified_count == 0
    assert nobody.reasons == ["missing_skill:database"]
    assert parse_reason(nobody.reasons[0]) == {"code": "missing_skill", "params": ["database"]}

    apart = only(plan([order(3, skills=("database", "power"))],
                      [engineer(3, skills=("database",)), engineer(4, skills=("power",))], NOW, TRAVEL))
    assert apart.reasons == ["missing_skill_combination:database,power"]


def test_certification_must_be_held_and_valid_on_the_arrival_date_in_china() -> None:
    wanted = order(1, skills=("power",), required_certification="电工证")
    holder = engineer(1, skills=("power",), certifications={"电工证": date(2026, 6, 1)})
    assert only(plan([wanted], [holder], NOW, TRAVEL)).chosen is not None  # valid through its expiry day

    expired = engineer(2, skills=("power",), certifications={"电工证": date(2026, 5, 31)})
    result = only(plan([wanted], [expired], NOW, TRAVEL))
    assert result.chosen is None and result.reasons == ["certification_expired:电工证"]

    # 17:00 UTC on 31 May is 01:00 on 1 June in China: a certificate ending on 31 May no longer counts
    late_evening = datetime(2026, 5, 31, 17, 0, tzinfo=UTC)
    night = order(2, skills=("power",), required_certification="电工证", earliest_start=late_evening, due_at=None)
    expired = engineer(2, skills=("power",), certifications={"电工证": date(2026, 5, 31)}, available_from=late_evening)
    assert only(plan([night], [expired], late_evening, TRAVEL)).reasons == ["certification_expired:电工证"]
    before_midnight = datetime(2026, 5, 31, 14, 0, tzinfo=UTC)  # 22:00 in China, arrival before midnight
    evening = order(3, skills=("power",), required_certification="电工证", earliest_start=before_midnight,
                    due_at=None)
    still_valid = engineer(5, skills=("power",), certifications={"电工证": date(2026, 5, 31)},
                           available_from=before_midnight)
    assert only(plan([evening], [still_valid], before_midnight, TRAVEL)).chosen is not None

    never = engineer(3, skills=("power",), certifications={"电工证": None})
    assert only(plan([wanted], [never], NOW, TRAVEL)).chosen is not None
    assert only(plan([wanted], [engineer(4, skills=("power",))], NOW, TRAVEL)).reasons == [
        "missing_certification:电工证"]


def test_an_engineer_without_capacity_left_is_not_proposed() -> None:
    full = engineer(1, capacity_left=0)
    result = only(plan([order(1)], [full], NOW, TRAVEL))
    assert result.chosen is None and result.reasons == ["no_capacity"]
    spare = engineer(2, ZHANGQIU)
    chosen = only(plan([order(1)], [full, spare], NOW, TRAVEL)).chosen
    assert chosen is not None and chosen.engineer_id == 2


def test_an_absence_overlapping_the_trip_or_the_time_on_site_excludes_the_engineer() -> None:
    trip = minutes_between(LIXIA, ZHANGQIU)
    job = order(1, ZHANGQIU, estimated_minutes=120)
    on_site_end = NOW + timedelta(minutes=trip + 120)
    during_visit = engineer(1, absences=((on_site_end - timedelta(minutes=1), on_site_end + timedelta(hours=8)),))
    result = only(plan([job], [during_visit], NOW, TRAVEL))
    assert result.chosen is None and result.reasons == ["on_leave_or_busy"]

    right_after = engineer(2, absences=((on_site_end, on_site_end + timedelta(hours=8)),))  # [start, end)
    ended = engineer(3, absences=((NOW - timedelta(days=2), NOW),))
    for free in (right_after, ended):
        assert only(plan([job], [free], NOW, TRAVEL)).chosen is not None


def test_a_trip_that_runs_into_off_duty_time_sets_off_when_it_ends_if_that_is_still_on_time() -> None:
    trip = minutes_between(LIXIA, ZHANGQIU)
    night = (NOW + timedelta(hours=1), NOW + timedelta(hours=16))  # the visit would run into it
    back = night[1] + timedelta(minutes=trip)
    office = engineer(1, off_duty=(night,))
    for due in (back, None):
        job = order(1, ZHANGQIU, estimated_minutes=120,
                    due_minutes=None if due is None else int((due - NOW).total_seconds() // 60))
        result = only(plan([job], [office], NOW, TRAVEL))
        assert result.chosen is not None and result.chosen.arrival_at == back and result.reasons == []
        assert departure(job, office, NOW, trip) == night[1]
    # a minute too late the next morning: the engineer does not qualify, as when the trip overlapped leave
    tight = order(1, ZHANGQIU, estimated_minutes=120, due_minutes=int((back - NOW).total_seconds() // 60) - 1)
    result = only(plan([tight], [office], NOW, TRAVEL))
    assert result.chosen is None and result.reasons == ["on_leave_or_busy"]
    assert departure(tight, office, NOW, trip) == NOW

    # a short visit that fits before the gap starts is not moved
    quick = order(1, LIXIA, estimated_minutes=30)
    chosen = only(plan([quick], [office], NOW, TRAVEL)).chosen
    assert chosen is not None and chosen.arrival_at == NOW + timedelta(minutes=minutes_between(LIXIA, LIXIA))

    # gaps in a row (the evening, then a holiday after a half day's work too short for the visit)
    holiday = (night[1] + timedelta(minutes=30), night[1] + timedelta(hours=40))
    chosen = only(plan([order(1, ZHANGQIU, estimated_minutes=120, due_minutes=None)],
                       [engineer(2, off_duty=(night, holiday))], NOW, TRAVEL)).chosen
    assert chosen is not None and chosen.arrival_at == holiday[1] + timedelta(minutes=trip)
    # nobody sets off more than a week ahead
    away = engineer(3, off_duty=((NOW + timedelta(hours=1), NOW + timedelta(days=8)),))
    result = only(plan([order(1, ZHANGQIU, estimated_minutes=120, due_minutes=None)], [away], NOW, TRAVEL))
    assert result.chosen is None and result.reasons == ["on_leave_or_busy"]
    # leave is not off-duty time: a trip that overlaps it is not moved
    on_leave = engineer(4, absences=(night,))
    assert only(plan([order(1, ZHANGQIU, estimated_minutes=120, due_minutes=None)], [on_leave], NOW,
                     TRAVEL)).chosen is None


def test_regions_served_are_prefixes_and_empty_means_anywhere() -> None:
    job_jinan = order(1, LIXIA)
    job_qingdao = order(2, SHINAN)
    province = engineer(1, TAI_AN, regions_served=("370000",))
    city = engineer(2, TAI_AN, regions_served=("370100",))
    county = engineer(3, TAI_AN, regions_served=("370102",))
    elsewhere = engineer(4, TAI_AN, regions_served=("320000", "370211"))
    anywhere = engineer(5, TAI_AN)
    everyone = [province, city, county, elsewhere, anywhere]

    def qualified(job: OrderInput) -> set[int]:
        return {c.engineer_id for c in candidates(job, everyone, NOW, TRAVEL)}

    assert qualified(job_jinan) == {1, 2, 3, 5}
    assert qualified(job_qingdao) == {1, 5}
    result = only(plan([job_qingdao], [city, county, elsewhere], NOW, TRAVEL))
    assert result.chosen is None and result.reasons == ["region_not_served:370202"]


def test_the_proposal_explains_itself_with_the_runner_up() -> None:
    near = engineer(1, LIXIA, ("network", "server"))
    middle = engineer(2, ZHANGQIU, ("network",), org_name="齐鲁云维")
    far = engineer(3, SHINAN, ("network",))
    job = order(1, TAI_AN, due_minutes=120)
    result = only(plan([job], [far, middle, near], NOW, TRAVEL))
    chosen, runner = result.chosen, result.runner_up
    assert chosen is not None and runner is not None
    assert (chosen.engineer_id, runner.engineer_id) == (1, 2)
    assert result.qualified_count == 3 and result.due_at == job.due_at
    km = great_circle_km(LIXIA[0], LIXIA[1], TAI_AN[0], TAI_AN[1])
    assert chosen.distance_km == round(km, 1)
    assert chosen.travel_minutes == TRAVEL.minutes(km)
    assert chosen.arrival_at == NOW + timedelta(minutes=chosen.travel_minutes)
    assert chosen.on_time is True and chosen.late_minutes == 0 and result.reasons == []
    assert chosen.skills_matched == ("network",)
    assert runner.org_name == "齐鲁云维" and runner.travel_minutes > chosen.travel_minutes

    urgent = order(2, TAI_AN, due_minutes=30)
    late = only(plan([urgent], [near], NOW, TRAVEL))
    assert late.chosen is not None and late.chosen.on_time is False and late.runner_up is None
    assert late.chosen.late_minutes == late.chosen.travel_minutes - 30
    assert late.reasons == [f"late:{late.chosen.late_minutes}"]

    no_target = only(plan([order(3, TAI_AN, due_minutes=None)], [near], NOW, TRAVEL))
    assert no_target.chosen is not None and no_target.chosen.on_time is None
    assert plan([order(3, TAI_AN, due_minutes=None)], [near], NOW, TRAVEL).on_time == 1


def test_a_trip_from_the_site_of_a_current_job_says_so() -> None:
    at_job = engineer(1, TAI_AN, available_from=NOW + timedelta(hours=2), from_work_order_id=77)
    job = order(1, TAI_AN, due_minutes=60)
    result = only(plan([job], [at_job], NOW, TRAVEL))
    assert result.chosen is not None and result.chosen.from_work_order_id == 77
    assert result.chosen.arrival_at == NOW + timedelta(hours=2, minutes=result.chosen.travel_minutes)
    assert result.reasons == [f"late:{result.chosen.late_minutes}", "from_site:77"]
    assert parse_reason(result.reasons[1]) == {"code": "from_site", "params": ["77"]} and "from_site" in REASONS
    at_home = engineer(2, LIXIA)
    [first, second] = candidates(order(2, TAI_AN, due_minutes=None), [at_home, at_job], NOW, TRAVEL)
    assert (first.engineer_id, first.from_work_order_id, second.from_work_order_id) == (1, 77, None)


def test_nobody_arrives_before_the_earliest_start_or_leaves_before_being_free() -> None:
    trip = minutes_between(ZHANGQIU, LIXIA)
    later = NOW + timedelta(hours=5)
    chosen = only(plan([order(1, earliest_start=later, due_at=None)], [engineer(1, ZHANGQIU)], NOW, TRAVEL)).chosen
    assert chosen is not None and chosen.arrival_at == later
    busy = engineer(2, ZHANGQIU, available_from=NOW + timedelta(hours=2))
    chosen = only(plan([order(2)], [busy], NOW, TRAVEL)).chosen
    assert chosen is not None and chosen.arrival_at == NOW + timedelta(hours=2, minutes=trip)
    past = engineer(3, ZHANGQIU, available_from=NOW - timedelta(days=1))
    chosen = only(plan([order(3)], [past], NOW, TRAVEL)).chosen
    assert chosen is not None and chosen.arrival_at == NOW + timedelta(minutes=trip)


def test_optimizer_swaps_engineers_where_greedy_makes_one_order_late() -> None:
    # A is due first and greedy gives it the engineer next door, the only one who can reach B in time.
    assert (minutes_between(PINGYIN, LIXIA), minutes_between(LIXIA, ZHANGQIU), minutes_between(PINGYIN, ZHANGQIU)
            ) == (136, 106, 172)
    a = order(1, LIXIA, due_minutes=140)
    b = order(2, ZHANGQIU, due_minutes=150)
    people = [engineer(1, LIXIA), engineer(2, PINGYIN)]
    greedy = greedy_plan([a, b], people, NOW, TRAVEL)
    best = plan([a, b], people, NOW, TRAVEL)
    assert {p.order_id: p.chosen.engineer_id for p in greedy.proposals if p.chosen} == {1: 1, 2: 2}
    assert greedy.on_time == 1 and greedy.proposals[1].reasons == ["late:22"]
    assert {p.order_id: p.chosen.engineer_id for p in best.proposals if p.chosen} == {1: 2, 2: 1}
    assert best.on_time == 2 and best.travel_minutes == 136 + 106


def test_a_p1_gets_the_on_time_engineer_before_a_p3_with_days_to_spare() -> None:
    # Both plans miss one order; the one that misses the P3 (unassigned this round) beats sending the P1 late.
    p1 = order(1, LIXIA, due_minutes=60, priority="P1")
    p3 = order(2, LIXIA, ("storage",), due_minutes=2880, priority="P3")
    near = engineer(1, LIXIA, ("network", "storage"))
    far_for_p1_only = engineer(2, SHINAN)
    assert minutes_between(SHINAN, LIXIA) > 60 and minutes_between(LIXIA, LIXIA) <= 60
    best = plan([p3, p1], [near, far_for_p1_only], NOW, TRAVEL)
    chosen = {p.order_id: p.chosen.engineer_id if p.chosen else None for p in best.proposals}
    assert chosen == {1: 1, 2: None}
    assert best.proposals[1].chosen is not None and best.proposals[1].chosen.on_time is True
    assert best.proposals[0].reasons == ["engineers_taken:1"]


def test_an_order_without_a_due_time_never_outweighs_a_p1_that_can_be_served() -> None:
    # The P4 has no target and a week to go: leaving it waiting costs less than leaving the P1 unassigned,
    # even though the engineer cannot reach the P1 in time.
    p1 = order(1, LIXIA, due_minutes=60, priority="P1")
    p4 = order(2, SHINAN, due_minutes=None, priority="P4", earliest_start=NOW + timedelta(days=7))
    assert minutes_between(SHINAN, LIXIA) > 60
    best = plan([p1, p4], [engineer(1, SHINAN)], NOW, TRAVEL)
    chosen = {p.order_id: p.chosen.engineer_id if p.chosen else None for p in best.proposals}
    assert chosen == {1: 1, 2: None}
    assert best.proposals[0].reasons[0].startswith("late:") and best.proposals[1].reasons == ["engineers_taken:1"]


def test_an_unassigned_p1_costs_more_than_an_unassigned_p4() -> None:
    # Both miss their targets whoever goes, so tiers 1 and 2 tie; the P1 is served although the P4 is nearer.
    p4 = order(1, ZHANGQIU, due_minutes=10, priority="P4")
    p1 = order(2, SHINAN, due_minutes=10, priority="P1")
    assert minutes_between(LIXIA, ZHANGQIU) < minutes_between(LIXIA, SHINAN)
    best = plan([p4, p1], [engineer(1, LIXIA)], NOW, TRAVEL)
    assert {p.order_id: p.chosen.engineer_id if p.chosen else None for p in best.proposals} == {1: None, 2: 1}
    # without due times alike
    best = plan([order(1, ZHANGQIU, due_minutes=None, priority="P4"), order(2, SHINAN, due_minutes=None)],
                [engineer(1, LIXIA)], NOW, TRAVEL)
    assert {p.order_id: p.chosen.engineer_id if p.chosen else None for p in best.proposals} == {1: None, 2: 1}


def test_one_engineer_per_round_and_the_other_order_says_why() -> None:
    urgent = order(1, due_minutes=60)
    routine = order(2, due_minutes=2000, priority="P3")
    result = plan([routine, urgent], [engineer(1)], NOW, TRAVEL)
    assigned = [p for p in result.proposals if p.chosen]
    assert len(assigned) == 1
    waiting = next(p for p in result.proposals if p.chosen is None)
    assert waiting.qualified_count == 1 and waiting.reasons == ["engineers_taken:1"]
    assert [p.order_id for p in result.proposals] == [2, 1]  # input order


def test_candidates_are_ranked_by_lateness_then_travel() -> None:
    people = [engineer(1, SHINAN), engineer(2, ZHANGQIU), engineer(3, LIXIA), engineer(4, TAI_AN, ("storage",))]
    ranked = candidates(order(1, LIXIA, due_minutes=120), people, NOW, TRAVEL)
    assert [c.engineer_id for c in ranked] == [3, 2, 1]
    assert ranked[-1].on_time is False and ranked[-1].late_minutes > 0
    assert len(candidates(order(1, LIXIA), people, NOW, TRAVEL, limit=2)) == 2
    assert unqualified_reason(order(1, LIXIA, skills=("security",)), people, NOW, TRAVEL) == "missing_skill:security"
    assert unqualified_reason(order(1, LIXIA), people, NOW, TRAVEL) is None
    assert reason("late", 5) == "late:5" and parse_reason("no_capacity") == {"code": "no_capacity", "params": []}


def test_empty_inputs() -> None:
    assert plan([], [engineer(1)], NOW, TRAVEL).proposals == []
    result = only(plan([order(1)], [], NOW, TRAVEL))
    assert result.chosen is None and result.reasons == ["missing_skill:network"]


# --- properties against an independent, plain-Python reading of the rules -----------------------------------

PLACES = (LIXIA, ZHANGQIU, SHINAN, TAI_AN)
SKILLS = ("network", "power", "security")


def feasible_arrival(o: OrderInput, e: EngineerInput) -> datetime | None:
    if not o.required_skills <= e.skills or e.capacity_left < 1:
        return None
    if e.regions_served and not any(
        o.region_code.startswith(code.rstrip("0") if code.endswith("00") else code) for code in e.regions_served
    ):
        return None
    minutes = TRAVEL.minutes(great_circle_km(e.longitude, e.latitude, o.longitude, o.latitude))
    window = timedelta(minutes=minutes + o.estimated_minutes)
    depart = max(NOW, o.earliest_start - timedelta(minutes=minutes), e.available_from)

    def off_duty_ends(at: datetime) -> list[datetime]:
        return [end for start, end in e.off_duty if at < end and start < at + window]

    moved = depart
    for _ in range(4):  # past up to four off-duty gaps, if that still arrives by the due time
        if not off_duty_ends(moved):
            break
        moved = max(off_duty_ends(moved))
    if not off_duty_ends(moved) and moved - NOW <= timedelta(days=7) and (
            o.due_at is None or moved + timedelta(minutes=minutes) <= o.due_at):
        depart = moved
    arrive = depart + timedelta(minutes=minutes)
    if o.required_certification:
        if o.required_certification not in e.certifications:
            return None
        expires = e.certifications[o.required_certification]
        if expires is not None and (arrive + timedelta(hours=8)).date() > expires:
            return None
    leave = arrive + timedelta(minutes=o.estimated_minutes)
    if any(depart < end and start < leave for start, end in e.absences + e.off_duty):
        return None
    return arrive


RANK = {"P1": 3, "P2": 2, "P3": 1}


def objective(orders: list[OrderInput], engineers: list[EngineerInput],
              picks: dict[int, int]) -> tuple[int, int, int, int]:
    """(orders with a due time not on time, their priority ranks summed, unassigned orders weighted by
    1 + rank, travel minutes) for picks order index -> engineer index."""
    not_on_time = ranks = unassigned = travel = 0
    for i, o in enumerate(orders):
        j = picks.get(i)
        arrive = None if j is None else feasible_arrival(o, engineers[j])
        if j is None:
            unassigned += 1 + RANK.get(o.priority, 0)
        else:
            assert arrive is not None
            e = engineers[j]
            travel += TRAVEL.minutes(great_circle_km(e.longitude, e.latitude, o.longitude, o.latitude))
        if o.due_at is not None and (arrive is None or arrive > o.due_at):
            not_on_time += 1
            ranks += RANK.get(o.priority, 0)
    return not_on_time, ranks, unassigned, travel


def result_objective(result: PlanResult, orders: list[OrderInput]) -> tuple[int, int, int, int]:
    pairs = list(zip(orders, result.proposals, strict=True))
    missed = [o for o, p in pairs if o.due_at is not None and (p.chosen is None or p.chosen.on_time is False)]
    unassigned = sum(1 + RANK.get(o.priority, 0) for o, p in pairs if p.chosen is None)
    return len(missed), sum(RANK.get(o.priority, 0) for o in missed), unassigned, result.travel_minutes


@st.composite
def engineers_st(draw: st.DrawFn, eid: int) -> EngineerInput:
    place = draw(st.sampled_from(PLACES))
    certs: dict[str, date | None] = {}
    if draw(st.booleans()):
        certs["电工证"] = draw(st.sampled_from([None, date(2026, 5, 31), date(2026, 6, 1), date(2026, 6, 2)]))
    absences: tuple[tuple[datetime, datetime], ...] = ()
    if draw(st.booleans()):
        start = NOW + timedelta(minutes=draw(st.integers(-600, 1200)))
        absences = ((start, start + timedelta(minutes=draw(st.integers(30, 900)))),)
    off_duty: tuple[tuple[datetime, datetime], ...] = ()
    if draw(st.booleans()):  # evenings of an office calendar, as minutes from now
        evenings = draw(st.lists(st.tuples(st.integers(-300, 2000), st.integers(60, 900)), min_size=1, max_size=2))
        off_duty = tuple(sorted((NOW + timedelta(minutes=a), NOW + timedelta(minutes=a + b)) for a, b in evenings))
    return engineer(
        eid, place, tuple(draw(st.sets(st.sampled_from(SKILLS), min_size=1))),
        certifications=certs, absences=absences, off_duty=off_duty,
        available_from=NOW + timedelta(minutes=draw(st.sampled_from([-60, 0, 90, 600]))),
        regions_served=draw(st.sampled_from([(), ("370000",), ("370100",), ("370202",), ("320000",)])),
        capacity_left=draw(st.sampled_from([0, 1, 1, 3])),
    )


@st.composite
def orders_st(draw: st.DrawFn, oid: int) -> OrderInput:
    place = draw(st.sampled_from(PLACES))
    skills = tuple(draw(st.sets(st.sampled_from(SKILLS), min_size=1, max_size=2)))
    return order(
        oid, place, skills, due_minutes=draw(st.sampled_from([None, 45, 90, 150, 300, 1440])),
        required_certification=draw(st.sampled_from([None, "电工证"])),
        earliest_start=NOW + timedelta(minutes=draw(st.sampled_from([0, 0, 120, 1440]))),
        priority=draw(st.sampled_from(["P1", "P2", "P3"])),
        estimated_minutes=draw(st.sampled_from([60, 240])),
    )


@st.composite
def instances(draw: st.DrawFn) -> tuple[list[OrderInput], list[EngineerInput]]:
    n = draw(st.integers(0, 4))
    m = draw(st.integers(0, 4))
    return [draw(orders_st(i + 1)) for i in range(n)], [draw(engineers_st(j + 1)) for j in range(m)]


@settings(max_examples=150, deadline=None)
@given(instances())
def test_plans_are_feasible_use_each_engineer_once_and_are_optimal(
    instance: tuple[list[OrderInput], list[EngineerInput]],
) -> None:
    orders, engineers = instance
    best = plan(orders, engineers, NOW, TRAVEL)
    greedy = greedy_plan(orders, engineers, NOW, TRAVEL)
    index = {e.id: j for j, e in enumerate(engineers)}
    for result in (best, greedy):
        used = [p.chosen.engineer_id for p in result.proposals if p.chosen is not None]
        assert len(used) == len(set(used))
        for o, p in zip(orders, result.proposals, strict=True):
            qualified = [e for e in engineers if feasible_arrival(o, e) is not None]
            assert p.order_id == o.id and p.qualified_count == len(qualified)
            if p.chosen is not None:
                assert p.chosen.arrival_at == feasible_arrival(o, engineers[index[p.chosen.engineer_id]])
                assert p.chosen.on_time == (None if o.due_at is None else p.chosen.arrival_at <= o.due_at)
                assert p.runner_up is None or p.runner_up.engineer_id != p.chosen.engineer_id
                assert (p.runner_up is None) == (len(qualified) == 1)
            else:
                assert p.runner_up is None and len(p.reasons) == 1
                code = parse_reason(p.reasons[0])["code"]
                assert (code == "engineers_taken") == bool(qualified)
                assert code in REASONS

    # no assignment of one engineer per order does better on (not on time, ranks missed, unassigned, travel)
    choices = [[None, *[j for j, e in enumerate(engineers) if feasible_arrival(o, e) is not None]] for o in orders]
    optimum = min(
        objective(orders, engineers, {i: j for i, j in enumerate(combo) if j is not None})
        for combo in itertools.product(*choices)
        if len([j for j in combo if j is not None]) == len({j for j in combo if j is not None})
    )
    assert result_objective(best, orders) == optimum
    # hence at least as many on time among orders with a due time as greedy; equal on time: no more urgent
    # misses, then no more weighted unassigned, then no more travel
    g = result_objective(greedy, orders)
    assert result_objective(best, orders) <= g
    assert best.on_time_due >= greedy.on_time_due
    due = [o for o in orders if o.due_at is not None]
    assert best.on_time_due == len(due) - result_objective(best, orders)[0]
