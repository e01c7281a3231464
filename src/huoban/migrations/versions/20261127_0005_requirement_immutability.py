"""requirement immutability

Requirement versions and their items are a signed record: the database refuses what the services never do,
so immutability does not rest on there being no edit routes alone.
- requirement_items: no UPDATE, no DELETE.
- requirement_versions: no DELETE; the content (id, engagement_id, number, based_on_id, created_by_id,
  created_at, note) never changes; the decision (status, decided_by_id, decided_at, decision_comment) changes
  only with one of the moves the services make: submitted → signed | returned, proposed-change → signed |
  rejected-change. So a signed, returned or rejected version never changes again (a newer signed version
  supersedes an older one without touching it).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONTENT = ("id", "engagement_id", "number", "based_on_id", "created_by_id", "created_at", "note")
DECISION = ("status", "decided_by_id", "decided_at", "decision_comment")
ALLOWED = ("(OLD.status = 'submitted' AND NEW.status IN ('signed', 'returned')) "
           "OR (OLD.status = 'proposed-change' AND NEW.status IN ('signed', 'rejected-change'))")


def _row(prefix: str, columns: Sequence[str]) -> str:
    return "(" + ", ".join(f"{prefix}.{c}" for c in columns) + ")"


def _changed_sqlite(columns: Sequence[str]) -> str:
    return "(" + " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns) + ")"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION requirement_items_immutable() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'requirement items are immutable'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER requirement_items_no_change BEFORE UPDATE OR DELETE ON requirement_items "
            "FOR EACH ROW EXECUTE FUNCTION requirement_items_immutable()"
        )
        op.execute(
            "CREATE FUNCTION requirement_versions_guard() RETURNS trigger AS $$ BEGIN "
            "IF TG_OP = 'DELETE' THEN RAISE EXCEPTION 'requirement versions are never deleted'; END IF; "
            f"IF {_row('NEW', CONTENT)} IS DISTINCT FROM {_row('OLD', CONTENT)} THEN "
            "RAISE EXCEPTION 'a requirement version''s content is immutable'; END IF; "
            f"IF {_row('NEW', DECISION)} IS DISTINCT FROM {_row('OLD', DECISION)} AND NOT ({ALLOWED}) THEN "
            "RAISE EXCEPTION USING MESSAGE = 'requirement version ' || OLD.id || ' cannot go from ' "
            "|| OLD.status || ' to ' || NEW.status; "
            "END IF; "
            "RETURN NEW; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER requirement_versions_guard BEFORE UPDATE OR DELETE ON requirement_versions "
            "FOR EACH ROW EXECUTE FUNCTION requirement_versions_guard()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER requirement_items_no_{verb.lower()} BEFORE {verb} ON requirement_items "
            "BEGIN SELECT RAISE(ABORT, 'requirement items are immutable'); END"
        )
    op.execute(
        "CREATE TRIGGER requirement_versions_no_delete BEFORE DELETE ON requirement_versions "
        "BEGIN SELECT RAISE(ABORT, 'requirement versions are never deleted'); END"
    )
    op.execute(
        "CREATE TRIGGER requirement_versions_content BEFORE UPDATE ON requirement_versions "
        f"WHEN {_changed_sqlite(CONTENT)} "
        "BEGIN SELECT RAISE(ABORT, 'a requirement version''s content is immutable'); END"
    )
    op.execute(
        "CREATE TRIGGER requirement_versions_decision BEFORE UPDATE ON requirement_versions "
        f"WHEN {_changed_sqlite(DECISION)} AND NOT ({ALLOWED}) "
        "BEGIN SELECT RAISE(ABORT, 'a requirement version cannot make this status change'); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS requirement_versions_guard ON requirement_versions")
        op.execute("DROP FUNCTION IF EXISTS requirement_versions_guard()")
        op.execute("DROP TRIGGER IF EXISTS requirement_items_no_change ON requirement_items")
        op.execute("DROP FUNCTION IF EXISTS requirement_items_immutable()")
        return
    for name in ("requirement_versions_decision", "requirement_versions_content", "requirement_versions_no_delete",
                 "requirement_items_no_delete", "requirement_items_no_update"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
