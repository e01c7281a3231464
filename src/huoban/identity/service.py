"""Rules for organizations, users, passwords, lockout, API tokens and web sessions. Never commits."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from huoban.audit.service import record, snapshot
from huoban.config import Settings
from huoban.errors import Conflict, Forbidden, Invalid, NotFound
from huoban.identity import permissions
from huoban.identity.actor import Actor
from huoban.identity.passwords import check_password_policy, hash_password, needs_rehash, verify_password
from huoban.identity.repository import find_org_by_name, find_user_by_email, get_org, get_user
from huoban.identity.schemas import OrgCreate, OrgUpdate, TokenCreate, UserCreate, UserUpdate
from huoban.models import (
    ROLES_BY_KIND,
    ApiToken,
    Organization,
    OrgKind,
    Region,
    Role,
    User,
    WebSession,
    utcnow,
)

ORG_FIELDS = ("name", "kind", "industry", "region_code", "description", "is_active")
USER_FIELDS = ("email", "display_name", "role", "org_id", "is_active", "phone", "locale", "timezone")
TOKEN_PREFIX = "hb_"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def actor_for(user: User, org: Organization, ip: str | None = None) -> Actor:
    return Actor(user.id, org.id, org.kind, user.role, user.email, user.display_name, ip)


def _check_region(session: Session, code: str | None) -> None:
    if code is not None and session.get(Region, code) is None:
        raise Invalid("Unknown administrative division code %(code)s.", field="region_code", code=code)


def create_org(session: Session, actor: Actor | None, data: OrgCreate) -> Organization:
    if actor is not None and not permissions.can_manage_orgs(actor):
        raise Forbidden("Only the operator's administrators may create organizations.")
    _check_region(session, data.region_code)
    if find_org_by_name(session, data.name):
        raise Conflict("An organization named %(name)s already exists.", field="name", name=data.name)
    org = Organization(**data.model_dump(), is_active=True)
    session.add(org)
    session.flush()
    record(session, actor, "org.create", "organization", org.id, after=snapshot(org, ORG_FIELDS),
           actor_label="cli")
    return org


def update_org(session: Session, actor: Actor, org_id: int, data: OrgUpdate) -> Organization:
    org = get_org(session, actor, org_id)
    if not permissions.can_manage_orgs(actor):
        raise Forbidden("Only the operator's administrators may change organizations.")
    changes = data.model_dump(exclude_unset=True)
    if "region_code" in changes:
        _check_region(session, changes["region_code"])
    if changes.get("name") and changes["name"] != org.name and find_org_by_name(session, changes["name"]):
        raise Conflict("An organization named %(name)s already exists.", field="name", name=changes["name"])
    if changes.get("is_active") is False and org.kind == OrgKind.operator:
        raise Invalid("The operator's organization cannot be deactivated.", field="is_active")
    for key in ("name", "is_active"):
        if key in changes and changes[key] is None:
            raise Invalid("%(name)s cannot be empty.", field=key, name=key)
    before = snapshot(org, ORG_FIELDS)
    for key, value in changes.items():
        setattr(org, key, value)
    session.flush()
    record(session, actor, "org.update", "organization", org.id, before=before, after=snapshot(org, ORG_FIELDS))
    return org


def check_role_for_org(role: str, org: Organization) -> None:
    allowed = ROLES_BY_KIND[OrgKind(org.kind)]
    if role not in allowed:
        raise Invalid(
            "Role %(role)s does not exist for a %(kind)s organization; choose one of: %(allowed)s.",
            field="role", role=role, kind=org.kind, allowed=", ".join(allowed),
        )


def create_user(
    session: Session, actor: Actor | None, data: UserCreate, settings: Settings
) -> tuple[User, str | None]:
    """Create an account; without a password a strong one is generated and returned once."""
    org = session.get(Organization, data.org_id) if actor is None else get_org(session, actor, data.org_id)
    if org is None:
        raise Invalid("Organization not found.", field="org_id")
    if actor is not None and not permissions.can_manage_users_of(actor, org.id):
        raise Forbidden("You may not create users in this organization.")
    check_role_for_org(data.role, org)
    email = data.email.strip().lower()
    if find_user_by_email(session, email):
        raise Conflict("A user with e-mail %(email)s already exists.", field="email", email=email)
    generated = None
    password = data.password
    if password is None:
        generated = password = generate_password()
    check_password_policy(password, settings.password_min_length)
    user = User(
        org_id=org.id, email=email, display_name=data.display_name, role=str(data.role), phone=data.phone,
        password_hash=hash_password(password), password_changed_at=utcnow(), is_active=True, failed_logins=0,
    )
    session.add(user)
    session.flush()
    record(session, actor, "user.create", "user", user.id, after=snapshot(user, USER_FIELDS), actor_label="cli")
    return user, generated


def generate_password() -> str:
    return secrets.token_urlsafe(12) + "-Aa1"


def update_user(session: Session, actor: Actor, user_id: int, data: UserUpdate) -> User:
    user = get_user(session, actor, user_id)
    changes = data.model_dump(exclude_unset=True)
    own_settings = {"display_name", "locale", "timezone", "phone"}
    own_profile_only = user.id == actor.user_id and set(changes) <= own_settings
    if not own_profile_only and not permissions.can_manage_users_of(actor, user.org_id):
        raise Forbidden("You may not change this user.")
    if user.id == actor.user_id and ("role" in changes or changes.get("is_active") is False):
        raise Invalid("You cannot change your own role or deactivate yourself.", field="role")
    if "role" in changes and changes["role"] is not None:
        check_role_for_org(changes["role"], session.get_one(Organization, user.org_id))
        changes["role"] = str(changes["role"])
    before = snapshot(user, USER_FIELDS)
    for key, value in changes.items():
        if value is None and key in {"role", "is_active", "display_name"}:
            raise Invalid("%(name)s cannot be empty.", field=key, name=key)
        setattr(user, key, value)
    if changes.get("is_active") is False:
        end_all_sessions(session, user.id)
    session.flush()
    record(session, actor, "user.update", "user", user.id, before=before, after=snapshot(user, USER_FIELDS))
    return user


def set_password(session: Session, actor: Actor | None, user: User, password: str, settings: Settings) -> None:
    check_password_policy(password, settings.password_min_length)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    record(session, actor, "user.password", "user", user.id, actor_label="cli")


def change_own_password(
    session: Session, actor: Actor, current: str, new: str, settings: Settings
) -> None:
    user = session.get_one(User, actor.user_id)
    if not verify_password(user.password_hash, current):
        raise Invalid("The current password is wrong.", field="current_password")
    if current == new:
        raise Invalid("The new password must differ from the current one.", field="new_password")
    check_password_policy(new, settings.password_min_length, field="new_password")
    set_password(session, actor, user, new, settings)


def unlock_user(session: Session, actor: Actor, user_id: int) -> User:
    user = get_user(session, actor, user_id)
    if not permissions.can_unlock_users_of(actor, user.org_id):
        raise Forbidden("You may not unlock this user.")
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    record(session, actor, "user.unlock", "user", user.id)
    return user


@dataclass
class LoginResult:
    user: User | None
    org: Organization | None = None

    @property
    def ok(self) -> bool:
        return self.user is not None


def authenticate(session: Session, email: str, password: str, settings: Settings, ip: str | None) -> LoginResult:
    """Check a password login. Failures are counted and audited (the caller commits them too);
    after `login_max_failures` in a row the account is locked for `lockout_minutes`.
    Every failure looks the same to the caller, so accounts cannot be probed."""
    now = utcnow()
    user = find_user_by_email(session, email) if email else None
    org = session.get(Organization, user.org_id) if user else None
    locked = user is not None and user.locked_until is not None and user.locked_until > now
    good = verify_password(user.password_hash if user else None, password)
    if user is None or org is None or locked or not good or not user.is_active or not org.is_active:
        if user is not None and not locked and not good:
            user.failed_logins += 1
            if user.failed_logins >= settings.login_max_failures:
                user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
                user.failed_logins = 0
                record(session, None, "user.locked", "user", user.id, actor_label=user.email, ip=ip,
                       after={"locked_until": user.locked_until.isoformat()})
        record(session, None, "login.failed", "user", user.id if user else None,
               actor_label=(email or "")[:254], ip=ip, after={"reason": _reason(user, org, locked, good)})
        session.flush()
        return LoginResult(None)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.flush()
    record(session, actor_for(user, org, ip), "login", "user", user.id)
    return LoginResult(user, org)


def _reason(user: User | None, org: Organization | None, locked: bool, good: bool) -> str:
    if user is None:
        return "unknown user"
    if locked:
        return "locked"
    if not good:
        return "wrong password"
    return "inactive"


# --- API tokens -------------------------------------------------------------------------------


def create_token(session: Session, actor: Actor | None, user: User, data: TokenCreate) -> tuple[ApiToken, str]:
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(days=data.expires_in_days) if data.expires_in_days else None
    token = ApiToken(user_id=user.id, name=data.name, token_hash=sha256(raw), prefix=raw[:10], expires_at=expires)
    session.add(token)
    session.flush()
    record(session, actor, "token.create", "api_token", token.id, after={"user_id": user.id, "name": data.name},
           actor_label="cli")
    return token, raw


def revoke_token(session: Session, actor: Actor, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or (token.user_id != actor.user_id and not actor.has_role(Role.security_admin)):
        raise NotFound("Token not found.", field="token_id")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
        record(session, actor, "token.revoke", "api_token", token.id)
    return token


def list_tokens(session: Session, actor: Actor) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == actor.user_id).order_by(ApiToken.id)))


def actor_from_token(session: Session, raw: str, ip: str | None) -> Actor | None:
    if not raw.startswith(TOKEN_PREFIX):
        return None
    now = utcnow()
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == sha256(raw)))
    if token is None or token.revoked_at is not None or (token.expires_at and token.expires_at <= now):
        return None
    user = session.get(User, token.user_id)
    org = session.get(Organization, user.org_id) if user else None
    if user is None or org is None or not user.is_active or not org.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
    return actor_for(user, org, ip)


# --- web sessions -----------------------------------------------------------------------------


def start_session(session: Session, user: User, settings: Settings, ip: str | None) -> tuple[str, WebSession]:
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    web = WebSession(
        id_hash=sha256(raw), user_id=user.id, csrf_token=secrets.token_urlsafe(24), last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_max_hours), ip=ip,
    )
    session.add(web)
    session.flush()
    return raw, web


def resume_session(
    session: Session, raw: str, settings: Settings, ip: str | None
) -> tuple[Actor, WebSession] | None:
    """The actor behind a session cookie, or None when it is unknown, idle too long or expired."""
    now = utcnow()
    web = session.scalar(select(WebSession).where(WebSession.id_hash == sha256(raw)))
    if web is None:
        return None
    if web.expires_at <= now or now - web.last_seen_at > timedelta(minutes=settings.session_idle_minutes):
        session.delete(web)
        session.flush()
        return None
    user = session.get(User, web.user_id)
    org = session.get(Organization, user.org_id) if user else None
    if user is None or org is None or not user.is_active or not org.is_active:
        return None
    if now - web.last_seen_at > timedelta(seconds=30):
        web.last_seen_at = now
    return actor_for(user, org, ip), web


def end_session(session: Session, raw: str) -> None:
    web = session.scalar(select(WebSession).where(WebSession.id_hash == sha256(raw)))
    if web is not None:
        user = session.get(User, web.user_id)
        session.delete(web)
        session.flush()
        record(session, None, "logout", "user", web.user_id, actor_label=user.email if user else None)


def end_all_sessions(session: Session, user_id: int) -> None:
    for web in session.scalars(select(WebSession).where(WebSession.user_id == user_id)):
        session.delete(web)
    session.flush()
