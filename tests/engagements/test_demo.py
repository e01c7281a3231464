"""`huoban demo` tells the engagement story: every stage, at least two requirement versions and two consultations
on each engagement; a second run adds nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, text

from tests.commands import huoban

STAGES = {"inquiry", "consulting", "proposal", "bidding", "won", "lost", "delivering", "accepted", "closed"}


def _counts(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                "engagements": conn.scalar(text("SELECT count(*) FROM engagements")),
                "stages": {r[0] for r in conn.execute(text("SELECT DISTINCT stage FROM engagements"))},
                "lost_without_reason": conn.scalar(text(
                    "SELECT count(*) FROM engagements WHERE stage = 'lost' AND lost_reason IS NULL")),
                "versions": conn.scalar(text("SELECT count(*) FROM requirement_versions")),
                "signed": conn.scalar(text("SELECT count(*) FROM requirement_versions WHERE status = 'signed'")),
                "returned": conn.scalar(text("SELECT count(*) FROM requirement_versions WHERE status = 'returned'")),
                "consultations": conn.scalar(text("SELECT count(*) FROM consultations")),
                "effort": conn.scalar(text(
                    "SELECT coalesce(sum(effort_minutes), 0) FROM consultation_participants WHERE side = 'provider'")),
                "customer_effort": conn.scalar(text(
                    "SELECT coalesce(sum(effort_minutes), 0) FROM consultation_participants WHERE side = 'customer'")),
                "change_orders": {r[0] for r in conn.execute(text("SELECT status FROM change_orders"))},
                "scores": conn.scalar(text(
                    "SELECT count(*) FROM deliverables WHERE status = 'accepted' AND score IS NOT NULL")),
                "events": conn.scalar(text("SELECT count(*) FROM engagement_events")),
                "fewest_versions": conn.scalar(text(
                    "SELECT min(n) FROM (SELECT count(v.id) AS n FROM engagements e JOIN requirement_versions v "
                    "ON v.engagement_id = e.id GROUP BY e.id) AS per_engagement")),
                "fewest_consultations": conn.scalar(text(
                    "SELECT min(n) FROM (SELECT count(c.id) AS n FROM engagements e LEFT JOIN consultations c "
                    "ON c.engagement_id = e.id GROUP BY e.id) AS per_engagement")),
                "stages_without_versions": {r[0] for r in conn.execute(text(
                    "SELECT stage FROM engagements e WHERE NOT EXISTS "
                    "(SELECT 1 FROM requirement_versions v WHERE v.engagement_id = e.id)"))},
                "to_grade": {r[0] for r in conn.execute(text(
                    "SELECT e.stage FROM deliverables d JOIN engagements e ON e.id = d.engagement_id "
                    "WHERE d.status = 'submitted'"))},
                "delivering_deliverables": conn.scalar(text(
                    "SELECT count(*) FROM deliverables d JOIN engagements e ON e.id = d.engagement_id "
                    "WHERE e.stage = 'delivering'")),
            }
    finally:
        engine.dispose()


def test_demo_has_engagements_in_every_stage_and_is_idempotent(fresh_database_url):
    first = huoban(fresh_database_url, "demo")
    assert first.returncode == 0, first.stderr
    after_first = _counts(fresh_database_url)
    assert after_first["stages"] == STAGES
    assert after_first["lost_without_reason"] == 0
    assert after_first["versions"] >= 10
    assert after_first["signed"] and after_first["returned"]
    assert after_first["consultations"] >= 15
    assert after_first["effort"] > 0 and after_first["customer_effort"] == 0
    assert after_first["change_orders"] == {"approved", "pending"}
    assert after_first["scores"] >= 2
    assert after_first["stages_without_versions"] == set()  # early drafts too, not only from the proposal on
    assert after_first["fewest_versions"] >= 2  # a draft and its revision at least, the inquiry too
    assert after_first["fewest_consultations"] >= 2  # every engagement, the inquiry too
    assert after_first["to_grade"] == {"delivering"}  # a customer has deliverables waiting for its grade
    assert after_first["delivering_deliverables"] >= 2

    second = huoban(fresh_database_url, "demo")
    assert second.returncode == 0, second.stderr
    assert _counts(fresh_database_url) == after_first
