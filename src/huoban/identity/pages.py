"""HTML pages: login, logout, language, home, organizations, users and the caller's account."""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from huoban.deps import SESSION_COOKIE, AppSettings, DbSession, PageActorOrNone, client_ip
from huoban.errors import Forbidden, HuobanError
from huoban.identity import permissions, repository, service
from huoban.identity.schemas import OrgCreate, OrgUpdate, TokenCreate, UserCreate, UserUpdate
from huoban.models import ROLES_BY_KIND, Organization, OrgKind, Region, User, utcnow
from huoban.web.i18n import LOCALES, translate_error
from huoban.web.pages import CsrfChecked, PageActor
from huoban.web.render import CSRF_COOKIE, LOCALE_COOKIE, render, request_locale

router = APIRouter(include_in_schema=False)

INDUSTRIES = (
    "government", "power_grid", "energy", "manufacturing", "transport", "education", "healthcare",
    "finance", "telecom", "cloud", "software", "integration", "consulting", "services", "distribution",
)


def _safe_next(target: str | None) -> str:
    if not target:
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def _errors(request: Request, exc: Exception) -> tuple[str, dict[str, str]]:
    """A message and per-field messages in the viewer's language, for re-rendering a form."""
    locale = request_locale(request)
    if isinstance(exc, HuobanError):
        text = translate_error(locale, exc.message, exc.params)
        return text, ({exc.field: text} if exc.field else {})
    if isinstance(exc, ValidationError):
        fields = {".".join(str(p) for p in e["loc"]): e["msg"] for e in exc.errors()}
        return translate_error(locale, "Please correct the marked fields.", {}), fields
    raise exc


# --- login, logout, language --------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, actor: PageActorOrNone, next: str | None = None) -> Response:
    if actor is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "login.html", {"next": _safe_next(next), "csrf_token": token})
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict")
    return response


@router.post("/login", response_class=HTMLResponse, dependencies=[CsrfChecked])
def login(
    request: Request, session: DbSession, settings: AppSettings,
    email: Annotated[str, Form(max_length=254)] = "", password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    result = service.authenticate(session, email, password, settings, client_ip(request))
    if not result.ok or result.user is None:
        message = translate_error(request_locale(request), "Wrong e-mail or password, or the account is locked.", {})
        return render(request, "login.html", {"next": _safe_next(next), "email": email, "message": message},
                      status_code=401)
    raw, _web = service.start_session(session, result.user, settings, client_ip(request))
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, raw, httponly=True, samesite="lax", secure=settings.cookie_secure,
        max_age=settings.session_max_hours * 3600,
    )
    if result.user.locale in LOCALES:
        response.set_cookie(LOCALE_COOKIE, result.user.locale, samesite="lax", max_age=365 * 86400)
    return response


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, session: DbSession) -> Response:
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        service.end_session(session, raw)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/lang/{locale}")
def switch_language(locale: str, next: str | None = None) -> Response:
    response = RedirectResponse(_safe_next(next), status_code=303)
    if locale in LOCALES:
        response.set_cookie(LOCALE_COOKIE, locale, samesite="lax", max_age=365 * 86400)
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: DbSession, actor: PageActor) -> Response:
    org = session.get_one(Organization, actor.org_id)
    users, user_count = repository.list_users(session, actor, org_id=actor.org_id, limit=10)
    orgs_by_kind: dict[str, int] = {}
    if actor.is_operator:
        for kind in OrgKind:
            orgs_by_kind[kind.value] = repository.list_orgs(session, actor, kind=kind, limit=1)[1]
    return render(request, "home.html", {
        "org": org, "colleagues": users, "colleague_count": user_count, "orgs_by_kind": orgs_by_kind,
    })


# --- organizations ---------------------------------------------------------------------------------


@router.get("/orgs", response_class=HTMLResponse)
def orgs_page(
    request: Request, session: DbSession, actor: PageActor,
    kind: Annotated[str | None, Query(max_length=16)] = None, q: Annotated[str | None, Query(max_length=100)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    kind = kind if kind in {k.value for k in OrgKind} else None
    rows, total = repository.list_orgs(session, actor, kind=kind, q=q or None, limit=50, offset=(page - 1) * 50)
    regions = {r.code: r for r in session.query(Region).filter(Region.code.in_({o.region_code for o in rows}))}
    return render(request, "orgs/list.html", {
        "orgs": rows, "total": total, "kind": kind, "q": q or "", "page": page, "regions": regions,
        "can_create": permissions.can_manage_orgs(actor),
    })


def _org_form(request: Request, actor: Any, org: Organization | None, values: dict[str, Any],
              message: str | None = None, errors: dict[str, str] | None = None, status: int = 200) -> Response:
    return render(request, "orgs/form.html", {
        "org": org, "values": values, "kinds": [k.value for k in OrgKind], "industries": INDUSTRIES,
        "message": message, "errors": errors or {},
    }, status_code=status)


@router.get("/orgs/new", response_class=HTMLResponse)
def new_org_form(request: Request, actor: PageActor) -> Response:
    if not permissions.can_manage_orgs(actor):
        raise Forbidden("Only the operator's administrators may create organizations.")
    return _org_form(request, actor, None, {"kind": "customer"})


@router.post("/orgs/new", response_class=HTMLResponse, dependencies=[CsrfChecked])
def create_org_page(
    request: Request, session: DbSession, actor: PageActor,
    kind: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "", industry: Annotated[str, Form()] = "",
    region_code: Annotated[str, Form()] = "", description: Annotated[str, Form()] = "",
) -> Response:
    values = {"kind": kind, "name": name, "industry": industry, "region_code": region_code,
              "description": description}
    try:
        with session.begin_nested():
            data = OrgCreate(kind=kind, name=name, industry=industry or None, region_code=region_code or None,
                             description=description or None)
            org = service.create_org(session, actor, data)
    except (HuobanError, ValidationError) as exc:
        message, errors = _errors(request, exc)
        return _org_form(request, actor, None, values, message, errors, status=422)
    return RedirectResponse(f"/orgs/{org.id}", status_code=303)


@router.get("/orgs/{org_id}", response_class=HTMLResponse)
def org_detail(request: Request, session: DbSession, actor: PageActor, org_id: int) -> Response:
    org = repository.get_org(session, actor, org_id)
    users, total = repository.list_users(session, actor, org_id=org.id, limit=200)
    region = session.get(Region, org.region_code) if org.region_code else None
    return render(request, "orgs/detail.html", {
        "org": org, "users": users, "user_total": total, "region": region,
        "can_edit": permissions.can_manage_orgs(actor),
        "can_add_user": permissions.can_manage_users_of(actor, org.id),
    })


@router.get("/orgs/{org_id}/edit", response_class=HTMLResponse)
def edit_org_form(request: Request, session: DbSession, actor: PageActor, org_id: int) -> Response:
    org = repository.get_org(session, actor, org_id)
    values = {"kind": org.kind, "name": org.name, "industry": org.industry or "",
              "region_code": org.region_code or "", "description": org.description or "", "is_active": org.is_active}
    return _org_form(request, actor, org, values)


@router.post("/orgs/{org_id}/edit", response_class=HTMLResponse, dependencies=[CsrfChecked])
def update_org_page(
    request: Request, session: DbSession, actor: PageActor, org_id: int,
    name: Annotated[str, Form()] = "", industry: Annotated[str, Form()] = "",
    region_code: Annotated[str, Form()] = "", description: Annotated[str, Form()] = "",
    is_active: Annotated[str, Form()] = "",
) -> Response:
    org = repository.get_org(session, actor, org_id)
    values = {"kind": org.kind, "name": name, "industry": industry, "region_code": region_code,
              "description": description, "is_active": bool(is_active)}
    try:
        with session.begin_nested():
            data = OrgUpdate(name=name, industry=industry or None, region_code=region_code or None,
                             description=description or None, is_active=bool(is_active))
            service.update_org(session, actor, org_id, data)
    except (HuobanError, ValidationError) as exc:
        message, errors = _errors(request, exc)
        return _org_form(request, actor, org, values, message, errors, status=422)
    return RedirectResponse(f"/orgs/{org_id}", status_code=303)


# --- users -------------------------------------------------------------------------------------------


@router.get("/users", response_class=HTMLResponse)
def users_page(
    request: Request, session: DbSession, actor: PageActor,
    q: Annotated[str | None, Query(max_length=100)] = None, role: Annotated[str | None, Query(max_length=32)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    rows, total = repository.list_users(session, actor, q=q or None, role=role or None, limit=50,
                                        offset=(page - 1) * 50)
    orgs = {o.id: o for o in session.query(Organization).filter(Organization.id.in_({u.org_id for u in rows}))}
    return render(request, "users/list.html", {
        "users": rows, "total": total, "q": q or "", "role": role or "", "page": page, "orgs": orgs,
        "roles": [r for kind in OrgKind for r in ROLES_BY_KIND[kind]] if actor.is_operator
        else list(ROLES_BY_KIND[OrgKind(actor.org_kind)]),
        "can_manage": lambda u: permissions.can_manage_users_of(actor, u.org_id),
        "can_unlock": lambda u: permissions.can_unlock_users_of(actor, u.org_id),
        "now": utcnow(),
    })


def _user_form(request: Request, org: Organization, user: User | None, values: dict[str, Any],
               message: str | None = None, errors: dict[str, str] | None = None, status: int = 200,
               generated: str | None = None) -> Response:
    return render(request, "users/form.html", {
        "org": org, "user": user, "values": values, "roles": ROLES_BY_KIND[OrgKind(org.kind)],
        "message": message, "errors": errors or {}, "generated": generated,
    }, status_code=status)


@router.get("/orgs/{org_id}/users/new", response_class=HTMLResponse)
def new_user_form(request: Request, session: DbSession, actor: PageActor, org_id: int) -> Response:
    org = repository.get_org(session, actor, org_id)
    return _user_form(request, org, None, {"role": ROLES_BY_KIND[OrgKind(org.kind)][-1]})


@router.post("/orgs/{org_id}/users/new", response_class=HTMLResponse, dependencies=[CsrfChecked])
def create_user_page(
    request: Request, session: DbSession, actor: PageActor, settings: AppSettings, org_id: int,
    email: Annotated[str, Form()] = "", display_name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "", phone: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
) -> Response:
    org = repository.get_org(session, actor, org_id)
    values = {"email": email, "display_name": display_name, "role": role, "phone": phone}
    try:
        with session.begin_nested():
            data = UserCreate(org_id=org.id, email=email, display_name=display_name, role=role,
                              phone=phone or None, password=password or None)
            user, generated = service.create_user(session, actor, data, settings)
    except (HuobanError, ValidationError) as exc:
        message, errors = _errors(request, exc)
        return _user_form(request, org, None, values, message, errors, status=422)
    if generated:
        return _user_form(request, org, user, values, generated=generated)
    return RedirectResponse(f"/orgs/{org.id}", status_code=303)


@router.get("/users/{user_id}/edit", response_class=HTMLResponse)
def edit_user_form(request: Request, session: DbSession, actor: PageActor, user_id: int) -> Response:
    user = repository.get_user(session, actor, user_id)
    org = session.get_one(Organization, user.org_id)
    values = {"email": user.email, "display_name": user.display_name, "role": user.role,
              "phone": user.phone or "", "is_active": user.is_active}
    return _user_form(request, org, user, values)


@router.post("/users/{user_id}/edit", response_class=HTMLResponse, dependencies=[CsrfChecked])
def update_user_page(
    request: Request, session: DbSession, actor: PageActor, user_id: int,
    display_name: Annotated[str, Form()] = "", role: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "", is_active: Annotated[str, Form()] = "",
) -> Response:
    user = repository.get_user(session, actor, user_id)
    org = session.get_one(Organization, user.org_id)
    values = {"email": user.email, "display_name": display_name, "role": role, "phone": phone,
              "is_active": bool(is_active)}
    try:
        with session.begin_nested():
            changes: dict[str, Any] = {"display_name": display_name, "phone": phone or None}
            if role != user.role:
                changes["role"] = role
            if bool(is_active) != user.is_active:
                changes["is_active"] = bool(is_active)
            service.update_user(session, actor, user_id, UserUpdate(**changes))
    except (HuobanError, ValidationError) as exc:
        message, errors = _errors(request, exc)
        return _user_form(request, org, user, values, message, errors, status=422)
    return RedirectResponse(f"/orgs/{org.id}", status_code=303)


@router.post("/users/{user_id}/unlock", dependencies=[CsrfChecked])
def unlock_user_page(session: DbSession, actor: PageActor, user_id: int) -> Response:
    service.unlock_user(session, actor, user_id)
    return RedirectResponse("/users", status_code=303)


# --- the caller's own account: password and API tokens ------------------------------------------------


def _account(request: Request, session: DbSession, actor: Any, **extra: Any) -> Response:
    status = extra.pop("status", 200)
    return render(request, "account.html", {
        "user": session.get_one(User, actor.user_id), "tokens": service.list_tokens(session, actor),
        "errors": {}, **extra,
    }, status_code=status)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, session: DbSession, actor: PageActor) -> Response:
    return _account(request, session, actor)


@router.post("/account/password", response_class=HTMLResponse, dependencies=[CsrfChecked])
def change_password_page(
    request: Request, session: DbSession, actor: PageActor, settings: AppSettings,
    current_password: Annotated[str, Form(max_length=256)] = "",
    new_password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    try:
        with session.begin_nested():
            service.change_own_password(session, actor, current_password, new_password, settings)
    except HuobanError as exc:
        message, errors = _errors(request, exc)
        return _account(request, session, actor, message=message, errors=errors, status=422)
    done = translate_error(request_locale(request), "Your password was changed.", {})
    return _account(request, session, actor, notice=done)


@router.post("/account/tokens", response_class=HTMLResponse, dependencies=[CsrfChecked])
def create_token_page(
    request: Request, session: DbSession, actor: PageActor, name: Annotated[str, Form()] = "api",
) -> Response:
    try:
        with session.begin_nested():
            _token, raw = service.create_token(session, actor, session.get_one(User, actor.user_id),
                                               TokenCreate(name=name or "api"))
    except (HuobanError, ValidationError) as exc:
        message, errors = _errors(request, exc)
        return _account(request, session, actor, message=message, errors=errors, status=422)
    return _account(request, session, actor, new_token=raw)


@router.post("/account/tokens/{token_id}/revoke", dependencies=[CsrfChecked])
def revoke_token_page(session: DbSession, actor: PageActor, token_id: int) -> Response:
    service.revoke_token(session, actor, token_id)
    return RedirectResponse("/account", status_code=303)
