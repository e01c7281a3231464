"""Build the FastAPI application: routers, middleware, static files, error handlers."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from huoban import __version__
from huoban.config import get_settings
from huoban.db import get_sessionmaker
from huoban.errors import HuobanError, LoginRequired
from huoban.web.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware

STATIC_DIR = Path(__file__).parent / "web" / "static"
# Upload endpoints accept more than the default body limit; each checks size and type itself.
UPLOAD_LIMITS = {
    r"(/api/v1)?/tickets/\d+/attachments": 11 * 1024 * 1024,
    r"/tickets/new": 11 * 1024 * 1024,
    r"/desk/new": 11 * 1024 * 1024,
    r"/api/v1/sla/calendars/\d+/import-xlsx": 1_100_000,
    r"/api/v1/engagements/\d+/requirements/import": 1_100_000,
    r"/engagements/\d+/requirements/import": 1_100_000,
}


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or "body"


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        kind = err.get("type", "")
        message = err.get("msg", "invalid")
        if kind == "extra_forbidden":
            message = "unknown field"
        elif kind == "json_invalid":
            message = "malformed JSON: " + str(err.get("ctx", {}).get("error", "cannot be parsed"))
        elif kind == "missing":
            message = "field required"
        out.append({"field": _field(err.get("loc", ())), "message": message})
    return out


def install_error_handlers(app: FastAPI) -> None:
    from huoban.web.i18n import translate_error
    from huoban.web.render import render, request_locale

    @app.exception_handler(HuobanError)
    async def huoban_error(request: Request, exc: HuobanError) -> Response:
        if is_api(request):
            return JSONResponse(exc.body(), status_code=exc.status_code)
        message = translate_error(request_locale(request), exc.message, exc.params)
        return render(request, "error.html", {"status": exc.status_code, "message": message},
                      status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = validation_errors(exc)
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        if is_api(request):
            return JSONResponse({"detail": summary, "code": "invalid", "errors": errors}, status_code=422)
        return render(request, "error.html", {"status": 422, "message": summary}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if is_api(request) or exc.status_code == 405:
            return JSONResponse({"detail": exc.detail, "code": "http_error", "errors": []},
                                status_code=exc.status_code, headers=getattr(exc, "headers", None))
        return render(request, "error.html", {"status": exc.status_code, "message": exc.detail},
                      status_code=exc.status_code)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def out_of_range(request: Request, exc: Exception) -> Response:
        """Values the database cannot hold (an id past its integer range, say) are bad input, not a 500."""
        body = {"detail": "A value cannot be stored: it is out of range or holds invalid characters.",
                "code": "invalid", "errors": [{"field": "body", "message": "out of range or invalid characters"}]}
        if is_api(request):
            return JSONResponse(body, status_code=422)
        return render(request, "error.html", {"status": 422, "message": body["detail"]}, status_code=422)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


def create_app() -> FastAPI:
    settings = get_settings()
    app = FastAPI(
        title="Huoban API",
        version=__version__,
        description="Customers, partners and the provider running big digital projects together.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, overrides=UPLOAD_LIMITS)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_error_handlers(app)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/api/v1/openapi.json",
            title="Huoban API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/healthz", tags=["health"])
    def healthz() -> JSONResponse:
        """Liveness and database connectivity."""
        try:
            with get_sessionmaker()() as session:
                session.execute(text("SELECT 1"))
            return JSONResponse({"status": "ok", "database": "ok", "version": __version__})
        except Exception as exc:  # noqa: BLE001 - any failure means the database is unreachable
            return JSONResponse(
                {"status": "error", "database": "unreachable", "detail": type(exc).__name__}, status_code=503
            )

    from huoban.routers import include_routers

    include_routers(app)
    return app
