"""`huoban dispatch plan` in a subprocess against a committed database: the Rich table, `--json` (parsed),
`--dry-run` storing nothing, and `huoban dispatch engineers`."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from huoban.db import make_engine
from huoban.models import DispatchPlan, DispatchProposal, utcnow
from tests.commands import huoban
from tests.dispatch.factories import LICHENG, QINGZHOU, SHOUGUANG, make_engineer, make_work_order
from tests.factories import make_org, make_user


def _seed(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with sessionmaker(bind=engine, expire_on_commit=False)() as s, s.begin():
            operator = make_org(s, "operator", "运营方")
            customer = make_org(s, "customer", "潍坊市大数据局")
            partner = make_org(s, "partner", "山东齐鲁云维")
            dispatcher = make_user(s, operator, "dispatcher")
            near = make_engineer(s, make_user(s, partner, "partner_engineer", display_name="孔凡"),
                                 region_code=QINGZHOU, skills=["network", "power"])
            make_engineer(s, make_user(s, partner, "partner_engineer", display_name="胡斌"), region_code=LICHENG,
                          skills=["network"])
            now = utcnow()
            due = make_work_order(s, customer, dispatcher, title="核心交换机宕机", priority="P1", region_code=SHOUGUANG,
                                  skills=["network", "power"], arrival_due_at=now + timedelta(hours=6))
            nobody = make_work_order(s, customer, dispatcher, title="存储扩容", region_code=SHOUGUANG,
                                     skills=["storage"])
            return {"near": near.id, "due": due.id, "nobody": nobody.id}
    finally:
        engine.dispose()


def _count(url: str, model: type) -> int:
    engine = make_engine(url)
    try:
        with sessionmaker(bind=engine)() as s:
            return s.scalar(select(func.count()).select_from(model)) or 0
    finally:
        engine.dispose()


def test_plan_as_json_and_as_a_table_and_a_dry_run(fresh_database_url):
    ids = _seed(fresh_database_url)

    dry = huoban(fresh_database_url, "dispatch", "plan", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["plan_id"] is None
    assert _count(fresh_database_url, DispatchPlan) == 0

    done = huoban(fresh_database_url, "dispatch", "plan", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert isinstance(data["plan_id"], int) and data["planned_at"]
    assert data["summary"] | {"travel_hours": 0, "solve_ms": 0} == {
        "orders": 2, "engineers": 2, "on_time": 1, "late": 0, "unassigned": 1, "travel_hours": 0, "solve_ms": 0}
    by_order = {p["work_order_id"]: p for p in data["proposals"]}
    p = by_order[ids["due"]]
    assert (p["engineer_id"], p["engineer"], p["organization"]) == (ids["near"], "孔凡", "山东齐鲁云维")
    assert (p["title"], p["priority"], p["county"], p["on_time"], p["late_minutes"]) == (
        "核心交换机宕机", "P1", "寿光市", True, 0)
    assert p["skills_matched"] == ["network", "power"] and p["runner_up"] is None and p["reasons"] == []
    assert p["distance_km"] > 0 and p["travel_minutes"] > 0 and p["arrival_at"] < p["due_at"]
    missing = by_order[ids["nobody"]]
    assert missing["engineer_id"] is None and missing["reasons"] == ["missing_skill:storage"]
    assert _count(fresh_database_url, DispatchProposal) == 2

    table = huoban(fresh_database_url, "dispatch", "plan")
    assert table.returncode == 0, table.stderr
    for text in ("Dispatch plan 2", "1 on time", "1 unassigned", "核心交换机宕机", "寿光市", "孔凡", "P1",
                 "missing_skill:storage"):
        assert text in table.stdout, table.stdout
    assert _count(fresh_database_url, DispatchPlan) == 2

    engineers = huoban(fresh_database_url, "dispatch", "engineers", "--json", "--skill", "power")
    assert engineers.returncode == 0, engineers.stderr
    assert [e["name"] for e in json.loads(engineers.stdout)] == ["孔凡"]
    listed = huoban(fresh_database_url, "dispatch", "engineers")
    assert "胡斌" in listed.stdout and "孔凡" in listed.stdout
    bad = huoban(fresh_database_url, "dispatch", "engineers", "--region", "37")
    assert bad.returncode == 1 and "--region" in bad.stderr
