"""Who is asking: the signed-in user with organization kind and role, passed to every service call."""

from __future__ import annotations

from dataclasses import dataclass

from huoban.models import OrgKind, Role


@dataclass(frozen=True)
class Actor:
    user_id: int
    org_id: int
    org_kind: str
    role: str
    email: str
    display_name: str
    ip: str | None = None

    @property
    def is_operator(self) -> bool:
        return self.org_kind == OrgKind.operator

    @property
    def is_partner(self) -> bool:
        return self.org_kind == OrgKind.partner

    @property
    def is_customer(self) -> bool:
        return self.org_kind == OrgKind.customer

    def has_role(self, *roles: Role | str) -> bool:
        return self.role in {str(r) for r in roles}
