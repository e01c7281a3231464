"""Small factories for identity rows; each domain keeps its own beside its tests."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from huoban.identity.passwords import hash_password
from huoban.identity.schemas import TokenCreate
from huoban.identity.service import create_token
from huoban.models import Organization, User, utcnow

PASSWORD = "Correct-Horse-9"
_seq = itertools.count(1)
_PASSWORD_HASH = hash_password(PASSWORD)  # argon2 is slow on purpose; hash the shared password once


def make_org(session: Session, kind: str = "customer", name: str | None = None, **fields: object) -> Organization:
    org = Organization(kind=kind, name=name or f"{kind}-{next(_seq)}", is_active=True, **fields)
    session.add(org)
    session.flush()
    return org


def make_user(
    session: Session, org: Organization, role: str, email: str | None = None, password: str = PASSWORD,
    **fields: object,
) -> User:
    user = User(
        org_id=org.id,
        email=email or f"{role}-{next(_seq)}@example.test",
        display_name=fields.pop("display_name", role),
        role=role,
        password_hash=_PASSWORD_HASH if password == PASSWORD else hash_password(password),
        password_changed_at=utcnow(),
        is_active=True,
        failed_logins=0,
        **fields,
    )
    session.add(user)
    session.flush()
    return user


def token_for(session: Session, user: User) -> str:
    return create_token(session, None, user, TokenCreate(name="test"))[1]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
