"""HTML pages to search China's administrative divisions and look at one with its parents and children."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from huoban.deps import DbSession
from huoban.errors import HuobanError
from huoban.regions import service
from huoban.web.i18n import translate_error
from huoban.web.pages import PageActor
from huoban.web.render import render, request_locale

router = APIRouter(include_in_schema=False)

LIMIT = 50
SearchText = Annotated[str | None, Query(max_length=200)]


def _results(request: Request, session: Session, q: str | None) -> dict[str, Any]:
    """Matches for `q` (none for an empty box) and, for bad input, a message in the viewer's language."""
    q = (q or "").strip()
    if not q:
        return {"q": "", "results": [], "error": None}
    try:
        return {"q": q, "results": service.search(session, q, LIMIT), "error": None}
    except HuobanError as exc:
        message = translate_error(request_locale(request), exc.message, exc.params)
        return {"q": q, "results": [], "error": message}


@router.get("/regions", response_class=HTMLResponse)
def regions_page(request: Request, session: DbSession, actor: PageActor, q: SearchText = None) -> Response:
    context = _results(request, session, q)
    return render(request, "regions/search.html", context, status_code=422 if context["error"] else 200)


@router.get("/regions/search", response_class=HTMLResponse)
def regions_search_fragment(
    request: Request, session: DbSession, actor: PageActor, q: SearchText = None,
) -> Response:
    """The results table alone, for the search box's htmx requests. Always 200, bad input included:
    htmx does not swap 4xx answers, and the message belongs where the results would be."""
    return render(request, "regions/_results.html", _results(request, session, q))


@router.get("/regions/{code}", response_class=HTMLResponse)
def region_page(
    request: Request, session: DbSession, actor: PageActor, code: Annotated[str, Path(pattern=r"^[0-9]{6}$")],
) -> Response:
    region = service.get(session, code)
    return render(request, "regions/detail.html", {
        "region": region, "ancestors": service.ancestors(session, code),
        "children": service.children(session, code),
    })
