"""Webhook signatures, shared by the worker that signs and by receivers (and tests) that verify.

The signed text is ``f"{timestamp}.{body}"``: binding the timestamp lets a receiver refuse replays
of an old delivery, and the header carries the algorithm so it can change later.
"""

from __future__ import annotations

import hashlib
import hmac
import time

PREFIX = "sha256="


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def sign(secret: str, timestamp: int | str, body: bytes | str) -> str:
    """The `X-Huoban-Signature` value: ``sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">``."""
    message = f"{timestamp}.".encode() + _as_bytes(body)
    return PREFIX + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: int | str,
    body: bytes | str,
    signature: str,
    tolerance_seconds: int | None = 300,
    now: float | None = None,
) -> bool:
    """True when `signature` is ours for this body and timestamp, compared in constant time;
    with a tolerance, a timestamp further than that from `now` fails as a likely replay."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if tolerance_seconds is not None and abs((time.time() if now is None else now) - ts) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature or "")
