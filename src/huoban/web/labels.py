"""Message ids built at run time in templates (`_("role:" ~ role)`), listed here so Babel extracts them."""

from __future__ import annotations

from huoban.identity.pages import INDUSTRIES
from huoban.models import OrgKind, Role


def N_(message: str) -> str:
    """Mark a message for extraction without translating it now."""
    return message


ROLE_LABELS = [N_(f"role:{r.value}") for r in Role]
KIND_LABELS = [N_(f"kind:{k.value}") for k in OrgKind]
INDUSTRY_LABELS = [N_(f"industry:{i}") for i in INDUSTRIES]

# Babel reads literal strings only, so the ids are also spelled out once.
_LITERAL = [
    N_("role:admin"), N_("role:account_manager"), N_("role:presales"), N_("role:agent"), N_("role:dispatcher"),
    N_("role:finance"), N_("role:ecosystem_manager"), N_("role:system_admin"), N_("role:security_admin"),
    N_("role:audit_admin"), N_("role:partner_admin"), N_("role:partner_engineer"), N_("role:partner_finance"),
    N_("role:customer_admin"), N_("role:customer_member"),
    N_("kind:operator"), N_("kind:partner"), N_("kind:customer"),
    N_("industry:government"), N_("industry:power_grid"), N_("industry:energy"), N_("industry:manufacturing"),
    N_("industry:transport"), N_("industry:education"), N_("industry:healthcare"), N_("industry:finance"),
    N_("industry:telecom"), N_("industry:cloud"), N_("industry:software"), N_("industry:integration"),
    N_("industry:consulting"), N_("industry:services"), N_("industry:distribution"),
    N_("level:province"), N_("level:city"), N_("level:county"),
    # navigation entries (web/render.py nav_for)
    N_("Home"), N_("Organizations"), N_("My organization"), N_("Users"), N_("Audit log"), N_("Regions"),
    N_("Engagements"), N_("Visits"), N_("Dispatch"), N_("Work orders"), N_("My work orders"),
]
