"""JSON API for the caller, organizations, users and API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from huoban.api import IdemKey, Limit, Offset, Page, idempotent
from huoban.deps import ApiActor, AppSettings, DbSession
from huoban.identity import repository, service
from huoban.identity.schemas import (
    Me,
    OrgCreate,
    OrgRead,
    OrgUpdate,
    TokenCreate,
    TokenCreated,
    TokenRead,
    UserCreate,
    UserRead,
    UserUpdate,
)
from huoban.models import Organization, OrgKind, Role, User

router = APIRouter(tags=["identity"])


@router.get("/me", response_model=Me)
def me(session: DbSession, actor: ApiActor) -> Me:
    user = session.get_one(User, actor.user_id)
    org = session.get_one(Organization, actor.org_id)
    return Me(user=UserRead.model_validate(user), organization=OrgRead.model_validate(org))


@router.get("/orgs", response_model=Page[OrgRead])
def list_orgs(
    session: DbSession, actor: ApiActor, limit: Limit = 50, offset: Offset = 0,
    kind: OrgKind | None = None, q: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[OrgRead]:
    rows, total = repository.list_orgs(session, actor, kind=kind, q=q, limit=limit, offset=offset)
    return Page(items=[OrgRead.model_validate(r) for r in rows], total=total, limit=limit, offset=offset)


@router.post("/orgs", response_model=OrgRead, status_code=201)
def create_org(session: DbSession, actor: ApiActor, data: OrgCreate, key: IdemKey = None) -> JSONResponse:
    return idempotent(
        session, actor, key, data, lambda: OrgRead.model_validate(service.create_org(session, actor, data))
    )


@router.get("/orgs/{org_id}", response_model=OrgRead)
def get_org(session: DbSession, actor: ApiActor, org_id: int) -> OrgRead:
    return OrgRead.model_validate(repository.get_org(session, actor, org_id))


@router.patch("/orgs/{org_id}", response_model=OrgRead)
def update_org(session: DbSession, actor: ApiActor, org_id: int, data: OrgUpdate) -> OrgRead:
    return OrgRead.model_validate(service.update_org(session, actor, org_id, data))


@router.get("/users", response_model=Page[UserRead])
def list_users(
    session: DbSession, actor: ApiActor, limit: Limit = 50, offset: Offset = 0,
    org_id: int | None = None, role: Role | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[UserRead]:
    rows, total = repository.list_users(
        session, actor, org_id=org_id, role=role, q=q, limit=limit, offset=offset
    )
    return Page(items=[UserRead.model_validate(r) for r in rows], total=total, limit=limit, offset=offset)


@router.post("/users", status_code=201, responses={201: {"model": UserRead}})
def create_user(
    session: DbSession, actor: ApiActor, settings: AppSettings, data: UserCreate, key: IdemKey = None
) -> JSONResponse:
    def write() -> dict[str, object]:
        user, generated = service.create_user(session, actor, data, settings)
        body = UserRead.model_validate(user).model_dump(mode="json")
        if generated:
            body["initial_password"] = generated
        return body

    return idempotent(
        session, actor, key, data.model_dump(exclude={"password"}), write, secret_fields=("initial_password",)
    )


@router.get("/users/{user_id}", response_model=UserRead)
def get_user(session: DbSession, actor: ApiActor, user_id: int) -> UserRead:
    return UserRead.model_validate(repository.get_user(session, actor, user_id))


@router.patch("/users/{user_id}", response_model=UserRead)
def update_user(session: DbSession, actor: ApiActor, user_id: int, data: UserUpdate) -> UserRead:
    return UserRead.model_validate(service.update_user(session, actor, user_id, data))


@router.post("/users/{user_id}/unlock", response_model=UserRead)
def unlock_user(session: DbSession, actor: ApiActor, user_id: int) -> UserRead:
    return UserRead.model_validate(service.unlock_user(session, actor, user_id))


@router.get("/tokens", response_model=list[TokenRead])
def list_tokens(session: DbSession, actor: ApiActor) -> list[TokenRead]:
    return [TokenRead.model_validate(t) for t in service.list_tokens(session, actor)]


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(session: DbSession, actor: ApiActor, data: TokenCreate) -> TokenCreated:
    """A new token for the caller; the token is in this answer only."""
    token, raw = service.create_token(session, actor, session.get_one(User, actor.user_id), data)
    return TokenCreated(**TokenRead.model_validate(token).model_dump(), token=raw)


@router.delete("/tokens/{token_id}", response_model=TokenRead)
def revoke_token(session: DbSession, actor: ApiActor, token_id: int) -> TokenRead:
    return TokenRead.model_validate(service.revoke_token(session, actor, token_id))
