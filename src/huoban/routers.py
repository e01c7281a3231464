"""Every domain's API router and page router, in one list so app.py stays short."""

from __future__ import annotations

from fastapi import FastAPI


def include_routers(app: FastAPI) -> None:
    from huoban.audit import pages as audit_pages
    from huoban.audit import routes as audit_routes
    from huoban.dispatch import coverage_pages, coverage_routes, field_pages
    from huoban.dispatch import pages as dispatch_pages
    from huoban.dispatch import routes as dispatch_routes
    from huoban.engagements import pages as engagements_pages
    from huoban.engagements import requirements_pages, requirements_routes
    from huoban.engagements import routes as engagements_routes
    from huoban.identity import pages as identity_pages
    from huoban.identity import routes as identity_routes
    from huoban.jobs import routes as jobs_routes
    from huoban.regions import pages as regions_pages
    from huoban.regions import routes as regions_routes
    from huoban.service_desk import pages as tickets_pages
    from huoban.service_desk import routes as tickets_routes
    from huoban.sla import routes as sla_routes

    for module in (identity_routes, audit_routes, regions_routes, jobs_routes, tickets_routes, sla_routes,
                   requirements_routes, engagements_routes, dispatch_routes, coverage_routes):
        app.include_router(module.router, prefix="/api/v1")
    for module in (identity_pages, audit_pages, regions_pages, tickets_pages, engagements_pages, requirements_pages,
                   dispatch_pages, field_pages, coverage_pages):
        app.include_router(module.router)
