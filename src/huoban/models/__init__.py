"""All tables, imported here so Alembic and the mappers see every one."""

from huoban.models.audit import AuditEntry, AuditHead
from huoban.models.base import Base, utcnow
from huoban.models.dispatch import (
    ACTIVE_ORDER_STATES,
    CustomerSite,
    DispatchPlan,
    DispatchProposal,
    Engineer,
    EngineerAbsence,
    EngineerCertification,
    WorkOrder,
    WorkOrderEvent,
)
from huoban.models.engagements import (
    ChangeOrder,
    Consultation,
    ConsultationParticipant,
    Deliverable,
    Engagement,
    EngagementEvent,
    EngagementMember,
    RequirementItem,
    RequirementVersion,
)
from huoban.models.identity import ROLES_BY_KIND, ApiToken, Organization, OrgKind, Role, User, WebSession
from huoban.models.jobs import IdempotencyKey, OutboxMessage, WebhookEndpoint
from huoban.models.regions import Region
from huoban.models.sla import Calendar, SlaClock, SlaEscalation, SlaPolicy
from huoban.models.tickets import Ticket, TicketAttachment, TicketEvent

__all__ = [
    "ACTIVE_ORDER_STATES",
    "ROLES_BY_KIND",
    "ApiToken",
    "AuditEntry",
    "AuditHead",
    "Base",
    "Calendar",
    "ChangeOrder",
    "Consultation",
    "ConsultationParticipant",
    "CustomerSite",
    "Deliverable",
    "DispatchPlan",
    "DispatchProposal",
    "Engagement",
    "EngagementEvent",
    "EngagementMember",
    "Engineer",
    "EngineerAbsence",
    "EngineerCertification",
    "IdempotencyKey",
    "OrgKind",
    "Organization",
    "OutboxMessage",
    "Region",
    "RequirementItem",
    "RequirementVersion",
    "Role",
    "SlaClock",
    "SlaEscalation",
    "SlaPolicy",
    "Ticket",
    "TicketAttachment",
    "TicketEvent",
    "User",
    "WebSession",
    "WebhookEndpoint",
    "WorkOrder",
    "WorkOrderEvent",
    "utcnow",
]
