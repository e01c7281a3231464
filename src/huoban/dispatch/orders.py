"""Creating work orders: from a ticket that needs a visit (its site, priority and on-site due time carried over),
or standalone planned maintenance at a customer's site.

Timed by `service.utcnow()`, read through the module so the tests and the demo that freeze it freeze this too.
A ticket is locked before anything else, as in service's one lock order.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huoban.audit.service import record
from huoban.dispatch import inputs, places, service
from huoban.dispatch import repository as repo
from huoban.dispatch.schemas import WorkOrderCreate
from huoban.dispatch.service import add_event
from huoban.errors import Conflict, Forbidden, Invalid, NotFound
from huoban.identity.actor import Actor
from huoban.jobs.outbox import publish_event
from huoban.models import CustomerSite, Organization, OrgKind, WorkOrder
from huoban.service_desk import repository as tickets


def create_work_order(session: Session, actor: Actor, data: WorkOrderCreate) -> WorkOrder:
    """From a ticket that needs a visit, or standalone (planned maintenance) for a customer's site."""
    if not (actor.is_operator and actor.has_role(*service.CREATOR_ROLES)):
        raise Forbidden("Only dispatchers, service agents and operator admins create work orders.")
    now = service.utcnow()
    if data.ticket_id is not None:
        order = _from_ticket(session, actor, data, now)
    else:
        if not service.is_planner(actor):
            raise Forbidden("Service agents create work orders from tickets; planned visits are for dispatchers.")
        order = _standalone(session, data, now)
    order.required_skills = list(data.required_skills) or list(order.required_skills or [])
    order.required_certification = data.required_certification
    order.estimated_minutes = data.estimated_minutes
    order.earliest_start_at = data.earliest_start_at or now
    order.status = "proposed"
    order.created_by_id = actor.user_id
    order.created_at = order.updated_at = now
    if order.arrival_due_at is not None and order.arrival_due_at < order.earliest_start_at:
        raise Invalid("The arrival is due before the earliest start.", field="arrival_due_at")
    session.add(order)
    session.flush()
    add_event(session, order, actor, "created", new="proposed", at=now)
    record(session, actor, "work_order.create", "work_order", order.id,
           after={"title": order.title, "ticket_id": order.ticket_id, "customer_org_id": order.customer_org_id,
                  "site_region_code": order.site_region_code, "priority": order.priority})
    publish_event(session, [order.customer_org_id], "work_order.created",
                  {"work_order_id": order.id, "ticket_id": order.ticket_id})
    return order


def _from_ticket(session: Session, actor: Actor, data: WorkOrderCreate, now: datetime) -> WorkOrder:
    assert data.ticket_id is not None
    ticket = tickets.get_ticket(session, actor, data.ticket_id, for_update=True)
    if not ticket.on_site_required:
        raise Invalid("This ticket needs no on-site visit.", field="ticket_id")
    if ticket.status in ("resolved", "closed"):
        raise Conflict("The ticket is already %(status)s.", field="ticket_id", status=ticket.status)
    if data.customer_org_id not in (None, ticket.customer_org_id):
        raise Invalid("The ticket belongs to another customer.", field="customer_org_id")
    open_order = session.scalar(select(WorkOrder.id).where(
        WorkOrder.ticket_id == ticket.id, WorkOrder.status.in_(repo.OPEN_STATES)))
    if open_order is not None:
        raise Conflict("The ticket already has open work order %(id)s.", field="ticket_id", id=open_order)
    code = data.site_region_code or ticket.site_region_code
    address = data.site_address or ticket.site_address
    if not code and not address:
        raise Invalid("The ticket names no site: give site_region_code or site_address.", field="site_region_code")
    region = places.place(session, code, address, "site_region_code", "site_address")
    due = inputs.on_site_due(session, [ticket.id]).get(ticket.id)
    return WorkOrder(
        ticket_id=ticket.id, customer_org_id=ticket.customer_org_id, title=data.title or ticket.title,
        description=data.description or ticket.description, kind=data.kind or "repair", priority=ticket.priority,
        site_region_code=region.code, site_address=address, site_longitude=region.longitude,
        site_latitude=region.latitude, arrival_due_at=due,
    )


def _standalone(session: Session, data: WorkOrderCreate, now: datetime) -> WorkOrder:
    site = None
    if data.site_id is not None:
        site = session.get(CustomerSite, data.site_id)
        if site is None or data.customer_org_id not in (None, site.customer_org_id):
            raise NotFound("Site not found.", field="site_id")
    customer_id = data.customer_org_id if site is None else site.customer_org_id
    if customer_id is None:
        raise Invalid("Choose the customer this visit is for.", field="customer_org_id")
    org = session.get(Organization, customer_id)
    if org is None or org.kind != OrgKind.customer:
        raise Invalid("Not a customer organization.", field="customer_org_id")
    if not data.title:
        raise Invalid("A planned visit needs a title.", field="title")
    if site is not None and not data.site_region_code and not data.site_address:
        code, address, lon, lat = site.region_code, site.address, site.longitude, site.latitude
    else:
        region = places.place(session, data.site_region_code, data.site_address, "site_region_code", "site_address")
        code, address, lon, lat = region.code, data.site_address, region.longitude, region.latitude
    return WorkOrder(
        customer_org_id=org.id, site_id=site.id if site else None, title=data.title, description=data.description,
        kind=data.kind or "maintenance", priority=data.priority or "P3", site_region_code=code,
        site_address=address, site_longitude=lon, site_latitude=lat,
        required_skills=list(site.required_skills or []) if site else [], arrival_due_at=data.arrival_due_at,
    )
