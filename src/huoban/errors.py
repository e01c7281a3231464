"""Business errors carry their HTTP status, the field at fault and a message for people.

One handler (see app.py) turns them into JSON for the API and into the form-again-with-a-message
for pages. Messages are English msgids; pages translate them through the catalogs.
"""

from __future__ import annotations

from typing import Any


class HuobanError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.field = field
        self.params = params

    def body(self) -> dict[str, Any]:
        text = str(self)
        return {
            "detail": text,
            "code": self.code,
            "errors": [{"field": self.field, "message": text}] if self.field else [],
        }


class Unauthorized(HuobanError):
    status_code = 401
    code = "unauthorized"


class Forbidden(HuobanError):
    status_code = 403
    code = "forbidden"


class NotFound(HuobanError):
    status_code = 404
    code = "not_found"


class Conflict(HuobanError):
    status_code = 409
    code = "conflict"


class Invalid(HuobanError):
    status_code = 422
    code = "invalid"


class Locked(HuobanError):
    status_code = 423
    code = "locked"


class LoginRequired(Exception):
    """Raised by page dependencies when no valid session came with the request; pages redirect to login."""
