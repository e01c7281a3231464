"""Webhook endpoints and the outbox through the JSON API: CRUD, scoping, bad input, idempotency."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from huoban.jobs import routes
from huoban.jobs.outbox import publish_event
from huoban.models import AuditEntry, OutboxMessage, WebhookEndpoint

URL = "https://hooks.example.test/huoban"


@pytest.fixture
def app(app):  # type: ignore[no-untyped-def]
    """conftest's app, with the webhooks router mounted if routers.py does not mount it yet."""
    if not any(getattr(r, "path", "") == "/api/v1/webhooks" for r in app.routes):
        app.include_router(routes.router, prefix="/api/v1")
    return app


def create(client, world, actor="customer_a_admin", **body):  # type: ignore[no-untyped-def]
    response = world.call(client, "POST", "/api/v1/webhooks", actor,
                          json={"url": URL, "events": ["ticket.created"], **body})
    assert response.status_code == 201, response.text
    return response.json()


def test_create_returns_the_secret_once_and_crud_is_audited(client, world, db):
    audits = db.scalar(select(func.count()).select_from(AuditEntry))
    created = create(client, world, events=["ticket.created", "ticket.created", "sla.breached"])
    assert len(created["secret"]) >= 40
    assert created["org_id"] == world.orgs["customer_a"].id
    assert created["events"] == ["ticket.created", "sla.breached"]
    path = f"/api/v1/webhooks/{created['id']}"

    got = world.call(client, "GET", path, "customer_a_admin").json()
    assert "secret" not in got and got["url"] == URL
    listed = world.call(client, "GET", "/api/v1/webhooks", "customer_a_admin").json()
    assert [e["id"] for e in listed["items"]] == [created["id"]] and listed["total"] == 1

    patched = world.call(client, "PATCH", path, "customer_a_admin",
                         json={"url": "http://10.0.0.5:8080/in", "events": ["*"], "is_active": False})
    assert patched.status_code == 200, patched.text
    assert patched.json()["events"] == ["*"] and patched.json()["is_active"] is False

    assert world.call(client, "DELETE", path, "customer_a_admin").status_code == 204
    assert world.call(client, "GET", path, "customer_a_admin").status_code == 404
    actions = db.scalars(
        select(AuditEntry.action).where(AuditEntry.id > audits).order_by(AuditEntry.id)
    ).all()
    assert [a for a in actions if a.startswith("webhook.")] == ["webhook.create", "webhook.update",
                                                               "webhook.delete"]
    stored = db.scalars(select(AuditEntry.after).where(AuditEntry.action == "webhook.create")).all()
    assert all("secret" not in (after or {}) for after in stored)


def test_another_organizations_endpoint_is_404_and_roles_are_enforced(client, world):
    endpoint = create(client, world)
    path = f"/api/v1/webhooks/{endpoint['id']}"
    world.check(client, "GET", path, {
        "anonymous": 401, "customer_a_admin": 200, "customer_a_member": 404, "customer_b_admin": 404,
        "partner_a_admin": 404, "partner_b_admin": 404, "operator_admin": 200, "operator_system_admin": 200,
        "operator_agent": 404, "operator_security_admin": 404,
    })
    for method, extra in (("PATCH", {"json": {"is_active": False}}), ("POST", {}), ("DELETE", {})):
        target = path + "/test" if method == "POST" else path
        world.check(client, method, target, {
            "anonymous": 401, "customer_b_admin": 404, "partner_b_admin": 404, "customer_a_member": 404,
        }, **extra)
    world.check(client, "POST", "/api/v1/webhooks", {
        "anonymous": 401, "customer_a_member": 403, "partner_a_engineer": 403, "operator_agent": 403,
    }, json={"url": URL, "events": ["*"]})
    world.check(client, "GET", "/api/v1/webhooks", {"anonymous": 401, "customer_b_admin": 200})
    assert world.call(client, "GET", "/api/v1/webhooks", "customer_b_admin").json()["items"] == []
    assert world.call(client, "GET", "/api/v1/webhooks", "customer_a_member").json()["total"] == 0
    # an organization admin cannot create an endpoint for another organization
    other = world.call(client, "POST", "/api/v1/webhooks", "partner_b_admin",
                       json={"url": URL, "events": ["*"], "org_id": world.orgs["customer_a"].id})
    assert other.status_code == 404


def test_operator_admins_create_for_any_organization(client, world):
    created = create(client, world, "operator_admin", org_id=world.orgs["partner_b"].id)
    assert created["org_id"] == world.orgs["partner_b"].id
    world.check(client, "GET", f"/api/v1/webhooks/{created['id']}",
                {"partner_b_admin": 200, "partner_a_admin": 404, "operator_system_admin": 200})
    missing = world.call(client, "POST", "/api/v1/webhooks", "operator_admin",
                         json={"url": URL, "events": ["*"], "org_id": 999999})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "org_id"


BAD_URLS = ["ftp://example.test/x", "file:///etc/passwd", "javascript:alert(1)", "/relative/path", "https://",
            "http://exa mple.test/", "https://h:99999/", "example.test/hook"]


def test_bad_urls_events_and_fields_are_422_naming_the_field(client, world):
    for url in BAD_URLS:
        response = world.call(client, "POST", "/api/v1/webhooks", "customer_a_admin",
                              json={"url": url, "events": ["*"]})
        assert response.status_code == 422, (url, response.text)
        assert [e["field"] for e in response.json()["errors"]] == ["url"], url
    for body, field in (
        ({"url": URL, "events": []}, "events"), ({"url": URL, "events": ["  "]}, "events.0"),
        ({"url": URL}, "events"), ({"url": URL, "events": ["*"], "secret": "mine"}, "secret"),
    ):
        response = world.call(client, "POST", "/api/v1/webhooks", "customer_a_admin", json=body)
        assert response.status_code == 422, body
        assert response.json()["errors"][0]["field"] == field, response.json()
    endpoint = create(client, world)
    path = f"/api/v1/webhooks/{endpoint['id']}"
    bad = world.call(client, "PATCH", path, "customer_a_admin", json={"url": "gopher://x"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "url"
    assert world.call(client, "PATCH", path, "customer_a_admin", json={"events": None}).status_code == 422
    assert world.call(client, "GET", path, "customer_a_admin").json()["url"] == URL


def test_idempotent_post_returns_the_same_endpoint_twice(client, world, db):
    headers = {"Idempotency-Key": "create-hook-1"}
    body = {"url": URL, "events": ["ticket.created"]}
    first = world.call(client, "POST", "/api/v1/webhooks", "customer_a_admin", json=body, headers=headers)
    second = world.call(client, "POST", "/api/v1/webhooks", "customer_a_admin", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replay") == "true"
    assert first.json()["id"] == second.json()["id"]
    assert "secret" in first.json() and "secret" not in second.json()
    assert db.scalar(select(func.count()).select_from(WebhookEndpoint)) == 1
    changed = world.call(client, "POST", "/api/v1/webhooks", "customer_a_admin",
                         json={**body, "events": ["*"]}, headers=headers)
    assert changed.status_code == 409


def test_test_ping_and_publish_event_queue_rows_for_subscribers_only(client, world, db):
    a = create(client, world, events=["ticket.created"])
    star = create(client, world, "customer_b_admin", events=["*"])
    other = create(client, world, "partner_a_admin", events=["sla.breached"])
    inactive = create(client, world, "partner_b_admin", events=["*"], is_active=False)

    queued = world.call(client, "POST", f"/api/v1/webhooks/{a['id']}/test", "customer_a_admin")
    assert queued.status_code == 202, queued.text
    row = db.get(OutboxMessage, queued.json()["outbox_id"])
    assert (row.kind, row.topic, row.status, row.payload["endpoint_id"]) == ("webhook", "webhook.test",
                                                                             "pending", a["id"])
    assert world.call(client, "POST", f"/api/v1/webhooks/{inactive['id']}/test",
                      "partner_b_admin").status_code == 409

    rows = publish_event(db, None, "ticket.created", {"ticket_id": 7})
    assert sorted(r.payload["endpoint_id"] for r in rows) == sorted([a["id"], star["id"]])
    only_b = publish_event(db, [world.orgs["customer_b"].id], "ticket.created", {"ticket_id": 8})
    assert [r.payload["endpoint_id"] for r in only_b] == [star["id"]]
    assert publish_event(db, [], "ticket.created", {}) == []
    assert other["id"] not in {r.payload["endpoint_id"] for r in rows + only_b}
    again = publish_event(db, None, "ticket.created", {"ticket_id": 9}, dedupe_key="ticket-9-created")
    assert publish_event(db, None, "ticket.created", {"ticket_id": 9}, dedupe_key="ticket-9-created") == again


def test_outbox_listing_and_retry_are_for_operator_admins(client, world, db):
    endpoint = create(client, world)
    queued = world.call(client, "POST", f"/api/v1/webhooks/{endpoint['id']}/test", "customer_a_admin").json()
    world.check(client, "GET", "/api/v1/outbox", {
        "anonymous": 401, "customer_a_admin": 403, "partner_a_admin": 403, "operator_agent": 403,
        "operator_audit_admin": 403, "operator_admin": 200, "operator_system_admin": 200,
    })
    retry = f"/api/v1/outbox/{queued['outbox_id']}/retry"
    assert world.call(client, "POST", retry, "operator_admin").status_code == 409  # not dead
    row = db.get(OutboxMessage, queued["outbox_id"])
    row.status, row.attempts, row.last_error = "dead", 8, "HTTP 500"
    db.flush()

    dead = world.call(client, "GET", "/api/v1/outbox?status=dead&topic=webhook.test", "operator_admin").json()
    assert [m["id"] for m in dead["items"]] == [row.id] and dead["items"][0]["last_error"] == "HTTP 500"
    assert world.call(client, "GET", "/api/v1/outbox?status=pending", "operator_admin").json()["total"] == 0
    assert world.call(client, "GET", "/api/v1/outbox?status=lost", "operator_admin").status_code == 422
    world.check(client, "POST", retry, {"customer_a_admin": 403, "operator_agent": 403})
    again = world.call(client, "POST", retry, "operator_system_admin")
    assert again.status_code == 200, again.text
    assert (again.json()["status"], again.json()["attempts"]) == ("pending", 0)
    assert world.call(client, "POST", "/api/v1/outbox/999999/retry", "operator_admin").status_code == 404


def test_private_targets_are_refused_unless_allowed(client, world, monkeypatch):
    """SSRF guard: an org admin cannot point the server at its own network."""
    from huoban.config import get_settings

    monkeypatch.setattr(get_settings(), "webhook_allow_private", False)
    for url in ("http://127.0.0.1:8080/hook", "http://localhost/hook", "http://169.254.169.254/latest",
                "http://10.1.2.3/hook", "http://[::1]/hook", "http://printer.local/hook"):
        r = world.call(client, "POST", "/api/v1/webhooks", "customer_a_admin", json={"url": url, "events": ["*"]})
        assert r.status_code == 422, (url, r.text)
        assert r.json()["errors"][0]["field"] == "url"
    ok = world.call(client, "POST", "/api/v1/webhooks", "customer_a_admin",
                    json={"url": "https://hooks.example.com/huoban", "events": ["*"]})
    assert ok.status_code == 201, ok.text
