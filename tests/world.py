"""A small world of organizations and users, and the permission matrix every domain applies.

Usage in a domain's tests:

    def test_ticket_scoping(client, world):
        world.check(client, "GET", f"/api/v1/tickets/{t.id}",
                    {"customer_a_admin": 200, "customer_b_admin": 404, "partner_b_admin": 404, "anonymous": 401})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from huoban.models import Organization, User
from tests.factories import bearer, make_org, make_user, token_for

ACTORS: dict[str, tuple[str, str]] = {
    # name: (organization key, role)
    "operator_admin": ("operator", "admin"),
    "operator_system_admin": ("operator", "system_admin"),
    "operator_security_admin": ("operator", "security_admin"),
    "operator_audit_admin": ("operator", "audit_admin"),
    "operator_agent": ("operator", "agent"),
    "customer_a_admin": ("customer_a", "customer_admin"),
    "customer_a_member": ("customer_a", "customer_member"),
    "customer_b_admin": ("customer_b", "customer_admin"),
    "partner_a_admin": ("partner_a", "partner_admin"),
    "partner_a_engineer": ("partner_a", "partner_engineer"),
    "partner_b_admin": ("partner_b", "partner_admin"),
}


@dataclass
class World:
    orgs: dict[str, Organization] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, actor: str) -> dict[str, str]:
        return {} if actor == "anonymous" else bearer(self.tokens[actor])

    def call(self, client: TestClient, method: str, path: str, actor: str, **kwargs: Any) -> Any:
        headers = {**kwargs.pop("headers", {}), **self.headers(actor)}
        return client.request(method, path, headers=headers, **kwargs)

    def check(self, client: TestClient, method: str, path: str, expected: dict[str, int], **kwargs: Any) -> None:
        """Call `path` as each named actor and assert the status each one gets."""
        got = {actor: self.call(client, method, path, actor, **kwargs).status_code for actor in expected}
        assert got == expected, f"{method} {path}: expected {expected}, got {got}"


def build_world(session: Session) -> World:
    world = World()
    world.orgs = {
        "operator": make_org(session, "operator", "测试运营方"),
        "customer_a": make_org(session, "customer", "甲客户", industry="government", region_code="330200"),
        "customer_b": make_org(session, "customer", "乙客户", industry="energy", region_code="370100"),
        "partner_a": make_org(session, "partner", "甲伙伴", industry="integration", region_code="330100"),
        "partner_b": make_org(session, "partner", "乙伙伴", industry="services", region_code="370100"),
    }
    for name, (org_key, role) in ACTORS.items():
        user = make_user(session, world.orgs[org_key], role, email=f"{name}@world.test", display_name=name)
        world.users[name] = user
        world.tokens[name] = token_for(session, user)
    # Release the savepoint, so a request that rolls back does not take the world with it;
    # the outer transaction of the `db` fixture still discards everything after the test.
    session.commit()
    return world


@pytest.fixture
def world(db: Session) -> World:
    return build_world(db)
