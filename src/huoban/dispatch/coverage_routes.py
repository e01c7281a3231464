"""Filled in by the work in progress on this domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
