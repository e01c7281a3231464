"""Dispatch demo data."""

from __future__ import annotations

from sqlalchemy.orm import Session


def load_dispatch_demo(session: Session) -> None:
    """Engineers, customer sites and work orders (filled in by the dispatch work)."""
