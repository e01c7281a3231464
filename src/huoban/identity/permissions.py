"""Least-privilege rules for identity administration, including the three separated admins (三员分立).

system_admin (and the business admin) manage organizations and accounts; security_admin unlocks
accounts and revokes sessions and tokens; audit_admin alone reads the audit log. Partner and
customer admins manage the accounts of their own organization only.
"""

from __future__ import annotations

from huoban.identity.actor import Actor
from huoban.models import Role

ACCOUNT_ADMINS = (Role.admin, Role.system_admin)
ORG_ACCOUNT_ADMINS = (Role.partner_admin, Role.customer_admin)


def can_manage_orgs(actor: Actor) -> bool:
    return actor.is_operator and actor.has_role(*ACCOUNT_ADMINS)


def can_manage_users_of(actor: Actor, org_id: int) -> bool:
    if actor.is_operator:
        return actor.has_role(*ACCOUNT_ADMINS)
    return actor.has_role(*ORG_ACCOUNT_ADMINS) and actor.org_id == org_id


def can_unlock_users_of(actor: Actor, org_id: int) -> bool:
    return (actor.is_operator and actor.has_role(Role.security_admin)) or can_manage_users_of(actor, org_id)


def can_read_audit(actor: Actor) -> bool:
    return actor.is_operator and actor.has_role(Role.audit_admin)
