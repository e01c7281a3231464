"""Test database (SQLite file by default, PostgreSQL via HUOBAN_TEST_DATABASE_URL), migrated once with
Alembic; each test runs in a transaction that is rolled back. Also a fresh committed database for
tests that drive the CLI or a real server in another process."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_TMP = Path(tempfile.mkdtemp(prefix="huoban-test-"))
TEST_DATABASE_URL = os.environ.get("HUOBAN_TEST_DATABASE_URL") or f"sqlite:///{_TMP / 'test.db'}"
os.environ["HUOBAN_DATABASE_URL"] = TEST_DATABASE_URL
os.environ["HUOBAN_VAR_DIR"] = str(_TMP / "var")
os.environ.setdefault("HUOBAN_SECRET_KEY", "test-secret-key")
# Tests deliver webhooks to receivers on 127.0.0.1; production refuses such targets.
os.environ["HUOBAN_WEBHOOK_ALLOW_PRIVATE"] = "true"

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from huoban.db import get_engine  # noqa: E402
from huoban.migrate import upgrade  # noqa: E402
from tests.world import world  # noqa: E402,F401  (fixture shared by every domain)


def _reset_postgres(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def is_postgres_url(url: str) -> bool:
    return url.startswith("postgresql")


@pytest.fixture(scope="session")
def engine():  # type: ignore[no-untyped-def]
    if is_postgres_url(TEST_DATABASE_URL):
        _reset_postgres(TEST_DATABASE_URL)
    upgrade(TEST_DATABASE_URL)
    engine = get_engine()
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    """A session whose commits are savepoints inside one outer transaction, rolled back after the test."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def app(db: Session):  # type: ignore[no-untyped-def]
    from huoban.app import create_app
    from huoban.deps import get_session

    application = create_app()

    def session_override() -> Iterator[Session]:
        try:
            yield db
            db.commit()
        except BaseException:
            db.rollback()
            raise

    application.dependency_overrides[get_session] = session_override
    return application


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
def fresh_database_url(engine) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A separate, migrated and empty database whose commits are real (for subprocesses)."""
    if is_postgres_url(TEST_DATABASE_URL):
        name = f"huoban_t_{secrets.token_hex(4)}"
        admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = Path(tempfile.mkdtemp(prefix="huoban-fresh-", dir=_TMP)) / "huoban.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield url


def cli_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUOBAN_")}
    env.update({"HUOBAN_DATABASE_URL": database_url, "HUOBAN_SECRET_KEY": "test-secret-key",
                "HUOBAN_VAR_DIR": str(_TMP / "var-cli"), "HUOBAN_WEBHOOK_ALLOW_PRIVATE": "true", **extra})
    return env
