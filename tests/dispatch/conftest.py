"""Dispatch tests see the shared world plus a dispatcher and more engineers' users."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.dispatch.factories import add_actors
from tests.world import World, build_world


@pytest.fixture
def world(db: Session) -> World:
    return add_actors(db, build_world(db))
