"""Shared pieces of the JSON API: pagination and Idempotency-Key replay."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Header, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from huoban.errors import Conflict, Invalid
from huoban.identity.actor import Actor
from huoban.models import IdempotencyKey

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


Limit = Annotated[int, Query(ge=1, le=500, description="Rows per page")]
Offset = Annotated[int, Query(ge=0, description="Rows to skip")]
IdemKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=200, description="Send the same key to retry a write safely"),
]


def idempotent(
    session: Session,
    actor: Actor,
    key: str | None,
    payload: Any,
    write: Callable[[], Any],
    status_code: int = 201,
    secret_fields: tuple[str, ...] = (),
) -> JSONResponse:
    """Run `write` once per (caller, key): a retry with the same body gets the first answer again,
    the same key with a different body is refused. The stored answer commits with the write;
    `secret_fields` (a generated password, say) are left out of what is stored."""
    body = jsonable_encoder(payload)
    request_hash = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    if key is not None:
        if not key.strip():
            raise Invalid("The Idempotency-Key header must not be empty.", field="Idempotency-Key")
        seen = session.scalar(
            select(IdempotencyKey).where(IdempotencyKey.user_id == actor.user_id, IdempotencyKey.key == key)
        )
        if seen is not None:
            if seen.request_hash != request_hash:
                raise Conflict(
                    "This Idempotency-Key was already used with a different request.", field="Idempotency-Key"
                )
            return JSONResponse(
                json.loads(seen.response_body), status_code=seen.status_code, headers={"Idempotent-Replay": "true"}
            )
    result = jsonable_encoder(write())
    if key is not None:
        session.add(
            IdempotencyKey(
                user_id=actor.user_id, key=key, request_hash=request_hash, status_code=status_code,
                response_body=json.dumps(
                    {k: v for k, v in result.items() if k not in secret_fields}
                    if isinstance(result, dict) else result,
                    ensure_ascii=False,
                ),
            )
        )
        session.flush()
    return JSONResponse(result, status_code=status_code)
