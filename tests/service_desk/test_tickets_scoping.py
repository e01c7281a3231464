"""The permission matrix on every ticket endpoint: another customer and any partner get 404 (the ticket does
not exist for them), anonymous callers 401, the customer's own users 200 where they may act and 403 for
agent-only actions, the operator's agents 200."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.service_desk.factories import TICKETS, move, png_bytes, raise_ticket, read

OUTSIDERS = {"anonymous": 401, "customer_b_admin": 404, "partner_a_admin": 404, "partner_a_engineer": 404,
             "partner_b_admin": 404}


@dataclass
class Tickets:
    a: int
    b: int
    attachment: int


@pytest.fixture
def tickets(client, world) -> Tickets:  # type: ignore[no-untyped-def]
    a = raise_ticket(client, world, "customer_a_member", on_site_required=True, site_region_code="330203")["id"]
    b = raise_ticket(client, world, "customer_b_admin")["id"]
    response = world.call(client, "POST", f"{TICKETS}/{a}/attachments", "customer_a_member",
                          files={"file": ("现场.png", png_bytes(), "image/png")})
    assert response.status_code == 201, response.text
    return Tickets(a, b, response.json()["id"])


def png_file() -> dict[str, Any]:
    return {"files": {"file": ("x.png", png_bytes(), "image/png")}}


def test_reading_a_ticket(client, world, tickets):
    world.check(client, "GET", f"{TICKETS}/{tickets.a}", {
        **OUTSIDERS, "customer_a_member": 200, "customer_a_admin": 200, "operator_agent": 200, "operator_admin": 200,
    })


def test_changing_a_ticket(client, world, tickets):
    world.check(client, "PATCH", f"{TICKETS}/{tickets.a}", {
        **OUTSIDERS, "customer_a_member": 403, "customer_a_admin": 403, "operator_audit_admin": 403,
        "operator_agent": 200,
    }, json={"priority": "P2"})
    assert read(client, world, tickets.a)["priority"] == "P2"


def test_moving_a_ticket(client, world, tickets):
    world.check(client, "POST", f"{TICKETS}/{tickets.a}/status", {
        **OUTSIDERS, "customer_a_member": 403, "customer_a_admin": 403, "operator_audit_admin": 403,
        "operator_agent": 200,
    }, json={"status": "acknowledged"})


def test_replying_and_writing_notes(client, world, tickets):
    world.check(client, "POST", f"{TICKETS}/{tickets.a}/comments", {
        **OUTSIDERS, "customer_a_member": 201, "customer_a_admin": 201, "operator_agent": 201,
    }, json={"body": "请尽快处理。"})
    world.check(client, "POST", f"{TICKETS}/{tickets.a}/comments", {
        **OUTSIDERS, "customer_a_member": 403, "customer_a_admin": 403, "operator_agent": 201,
    }, json={"body": "内部备注", "public": False})


def test_rating_a_resolved_ticket(client, world, tickets):
    move(client, world, tickets.a, "resolved")
    world.check(client, "POST", f"{TICKETS}/{tickets.a}/rating", {
        **OUTSIDERS, "operator_agent": 403, "operator_admin": 403, "customer_a_member": 200, "customer_a_admin": 200,
    }, json={"score": 5})


def test_recording_an_on_site_arrival(client, world, tickets):
    world.check(client, "POST", f"{TICKETS}/{tickets.a}/on-site-arrival", {
        **OUTSIDERS, "customer_a_member": 403, "customer_a_admin": 403, "operator_agent": 200,
    })
    on_site = [c for c in read(client, world, tickets.a)["clocks"] if c["metric"] == "on_site"]
    assert [c["state"] for c in on_site] == ["met"]


def test_uploading_an_attachment(client, world, tickets):
    world.check(client, "POST", f"{TICKETS}/{tickets.a}/attachments", {
        **OUTSIDERS, "customer_a_member": 201, "operator_agent": 201,
    }, **png_file())
    assert len(read(client, world, tickets.a)["attachments"]) == 3


def test_downloading_an_attachment(client, world, tickets):
    world.check(client, "GET", f"{TICKETS}/{tickets.a}/attachments/{tickets.attachment}", {
        **OUTSIDERS, "customer_a_member": 200, "customer_a_admin": 200, "operator_agent": 200,
    })
    # the right attachment id under a ticket the caller may see is still not found
    world.check(client, "GET", f"{TICKETS}/{tickets.b}/attachments/{tickets.attachment}", {
        "customer_b_admin": 404, "operator_agent": 404,
    })


def test_the_list_holds_only_what_the_caller_may_see(client, world, tickets):
    expected = {
        "customer_a_member": {tickets.a}, "customer_a_admin": {tickets.a}, "customer_b_admin": {tickets.b},
        "partner_a_admin": set(), "partner_a_engineer": set(), "partner_b_admin": set(),
        "operator_agent": {tickets.a, tickets.b}, "operator_admin": {tickets.a, tickets.b},
    }
    for actor, visible in expected.items():
        response = world.call(client, "GET", TICKETS, actor)
        assert response.status_code == 200, (actor, response.text)
        assert {t["id"] for t in response.json()["items"]} == visible, actor
        assert response.json()["total"] == len(visible), actor
        # a filter naming another customer does not widen the scope
        other = world.call(client, "GET", TICKETS, actor, params={"customer_org_id": world.orgs["customer_a"].id})
        assert {t["id"] for t in other.json()["items"]} == visible & {tickets.a}, actor
    assert world.call(client, "GET", TICKETS, "anonymous").status_code == 401


ENDPOINTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "", {}),
    ("PATCH", "", {"json": {"priority": "P1"}}),
    ("POST", "/status", {"json": {"status": "resolved"}}),
    ("POST", "/comments", {"json": {"body": "看得见吗"}}),
    ("POST", "/comments", {"json": {"body": "内部", "public": False}}),
    ("POST", "/rating", {"json": {"score": 1}}),
    ("POST", "/on-site-arrival", {}),
    ("POST", "/attachments", png_file()),
    ("GET", "/attachments/{attachment}", {}),
]


ENDPOINT_IDS = [f"{m} {s or '/'}{' note' if 'public' in str(k) else ''}" for m, s, k in ENDPOINTS]


@pytest.mark.parametrize(("method", "suffix", "kwargs"), ENDPOINTS, ids=ENDPOINT_IDS)
@pytest.mark.parametrize("outsider", ["customer_b_admin", "partner_a_admin", "partner_b_admin"])
def test_another_organization_gets_404_and_changes_nothing(client, world, tickets, method, suffix, kwargs,
                                                           outsider):
    before = read(client, world, tickets.a)
    path = f"{TICKETS}/{tickets.a}{suffix.format(attachment=tickets.attachment)}"
    response = world.call(client, method, path, outsider, **kwargs)
    assert response.status_code == 404, response.text
    assert response.json()["detail"] == "Ticket not found."  # the same answer as for no ticket at all
    assert read(client, world, tickets.a) == before


@pytest.mark.parametrize(("method", "suffix", "kwargs"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_a_ticket_that_does_not_exist_is_404_for_the_operator_too(client, world, tickets, method, suffix, kwargs):
    path = f"{TICKETS}/987654{suffix.format(attachment=tickets.attachment)}"
    assert world.call(client, method, path, "operator_admin", **kwargs).status_code == 404
