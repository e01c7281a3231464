"""Property-based contract test of the whole JSON API with Schemathesis: bad input never gives a 500.

The OpenAPI schema is loaded from the app in-process (ASGI, no network). Every operation under /api/v1
is called with generated valid and invalid inputs (positive and negative generation) as a powerful caller,
operator_admin (examples, coverage and fuzzing phases; the coverage phase also sends every method a path
does not allow), and as a customer, customer_a_admin (fuzzing phase). The contract, on every response:

* never a 5xx: an unhandled exception fails the test with the app's traceback and a curl line to reproduce
  it, a 5xx answered on purpose fails the `not_a_server_error` check;
* every 4xx is our error format: a JSON object {"detail": str, "code": str, "errors": [{"field", "message"}]}.

Isolation: the world (plus a few webhook endpoints and outbox rows) is built once per test; each generated
call then runs inside a SAVEPOINT of the test's transaction that is rolled back right after it. So a call
that revokes the caller's own token, deactivates the caller or its organization, or deletes the endpoint the
next call wants cannot spoil later examples, and no operation has to be excluded. This works the same on
SQLite and PostgreSQL (a failed statement only aborts the inner savepoint).

Random ids would almost always be unknown (404), so in two generated cases out of three a path or query
parameter or a top-level body field is swapped for a value that exists in the world (an organization, user,
token, webhook endpoint, outbox row, ticket, attachment, engagement, consultation, requirement version,
deliverable, SLA calendar or policy, region code, e-mail in use, tricky webhook URL...; ids that belong together,
like a ticket and its attachment, are also swapped together) or, for `id`,
`*_id` and `offset`, for an integer at the edge of the database's integer types. That lets the fuzzer reach
the deeper rules (updates of real rows, duplicates, other users' tokens, dead outbox rows...).

Bounded for CI: at most 25 generated examples per operation, derandomized (the same cases on every run),
no example database, no deadline, no shrinking (a failure is reported with the exact request that caused
it, as a curl line; shrinking many failures would take minutes). Hypothesis then stops at the first failing
case of an operation, so a second bug in the same operation shows once the first is fixed.
Run one operation with -k, e.g. `pytest tests/test_api_fuzz.py -k "operator_admin and PATCH and orgs"`.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from huoban.app import create_app
from huoban.engagements import requirements as engagement_requirements
from huoban.engagements import service as engagement_service
from huoban.engagements.requirements_schemas import DeliverableCreate, ItemIn
from huoban.engagements.schemas import ConsultationCreate, EngagementCreate, StageIn
from huoban.identity.service import actor_for
from huoban.jobs.outbox import enqueue_webhook
from huoban.models import ApiToken, Region, WebhookEndpoint
from huoban.service_desk import service as service_desk
from huoban.service_desk.schemas import CommentIn, TicketCreate
from tests.world import World

MAX_EXAMPLES = 25
API_PATHS = r"^/api/v1/"


def _config(*, coverage: bool) -> schemathesis.Config:
    # Explicit, so that a schemathesis.toml added later does not change what CI runs.
    return schemathesis.Config.from_dict(
        {
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True,
                           "database": "none", "no-shrink": True},
            "phases": {"stateful": {"enabled": False}, "coverage": {"enabled": coverage}},
        }
    )


# Schemas are loaded once, at collection, from an app built like the `app` fixture's (serving the schema
# touches no database); each example is sent to the test's own `app`, bound to the test's transaction.
# (`schemathesis.pytest.from_fixture` would load it per test, but it sets `Node._nodeid`, which pytest 9.2
# no longer has: AttributeError.)
# The operator admin gets every phase. The customer gets the fuzzing phase only (valid and invalid inputs
# alike): the coverage phase's cases are nearly all refused by request validation, before the caller
# matters, and running them twice would cost a third of the time budget.
_SCHEMA_APP = create_app()


def _load_schema(*, coverage: bool) -> schemathesis.BaseSchema:
    loaded = schemathesis.openapi.from_asgi("/api/v1/openapi.json", _SCHEMA_APP, config=_config(coverage=coverage))
    return loaded.include(path_regex=API_PATHS)


operator_schema = _load_schema(coverage=True)
customer_schema = _load_schema(coverage=False)


# --- the contract -------------------------------------------------------------------------------------


def error_body_is_ours(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """Every 4xx carries {"detail": str, "code": str, "errors": [{"field", "message"}, ...]}."""
    if not 400 <= response.status_code < 500 or case.method.upper() == "HEAD":
        return  # an answer to HEAD has no body
    try:
        body = response.json()
    except ValueError as exc:
        raise AssertionError(
            f"{response.status_code} without a JSON body (content-type "
            f"{response.headers.get('content-type')!r}): {response.content[:200]!r}"
        ) from exc
    assert isinstance(body, dict) and "detail" in body, f"{response.status_code} body has no `detail`: {body!r}"
    assert isinstance(body["detail"], str), f"`detail` is not a string: {body!r}"
    assert isinstance(body.get("code"), str), f"`code` missing or not a string: {body!r}"
    errors = body.get("errors")
    assert isinstance(errors, list), f"`errors` missing or not a list: {body!r}"
    for error in errors:
        assert isinstance(error, dict) and {"field", "message"} <= error.keys(), f"malformed error item: {error!r}"


CHECKS: list[schemathesis.CheckFunction] = [not_a_server_error, error_body_is_ours]


# --- values the fuzzer aims at ------------------------------------------------------------------------

# Just inside and just outside 32- and 64-bit integers (PostgreSQL INTEGER/BIGINT, SQLite INTEGER); tried
# for every `id`, `*_id` and `offset` parameter or body field, including those of operations added later.
EDGE_INTS = [2**31 - 1, 2**31, 2**63 - 1, 2**63]
WEBHOOK_URLS = [
    "https://hooks.example.test/in", "http://127.0.0.1:8080/hook", "https://[::1]/x", "http://[::1/x",
    "https://example.test:0/", "https://example.test:99999/", "https://exa mple.test/", "ftp://example.test/",
]

# The smallest valid PNG (1x1, grey): an attachment the upload checks accept.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010800000000"
    "3a7e9b550000000a49444154789c6360000000020001e221bc330000000049454e44ae426082"
)
# Seeded by the migrations: the built-in SLA calendars and policies.
SEEDED_CALENDAR_IDS = [1, 2]
SEEDED_POLICY_IDS = [1, 2]

# Values that exist in the running test's world, by field name; filled by the `known` fixture and read by
# the hooks below while cases are generated.
_KNOWN: dict[str, list[Any]] = {}
# Ids that only make sense together (an attachment of that ticket, a deliverable of that engagement...): when a
# generated dict has two or more of a group's fields, one more variant sets all of them at once.
_LINKED: list[dict[str, Any]] = []


def _takes_edge_ints(name: str) -> bool:
    return name == "id" or name.endswith("_id") or name == "offset"


def _aimed(generated: Any) -> st.SearchStrategy[Any]:
    """A third of the time each: the generated dict as is, with one field set to a value that exists, or
    with one id set to an integer at the edge of the database's integer types."""
    if not isinstance(generated, dict):
        return st.just(generated)
    existing = [{**generated, name: value} for name in generated for value in _KNOWN.get(name, [])]
    existing += [{**generated, **{name: group[name] for name in generated if name in group}}
                 for group in _LINKED if sum(name in group for name in generated) >= 2]
    edges = [{**generated, name: value} for name in generated if _takes_edge_ints(name) for value in EDGE_INTS]
    return st.one_of(st.just(generated), *(st.sampled_from(variants) for variants in (existing, edges) if variants))


for _schema in (operator_schema, customer_schema):
    for _hook in ("flatmap_path_parameters", "flatmap_query", "flatmap_body"):
        _schema.hook(_hook)(lambda context, value: _aimed(value))


@pytest.fixture
def known(db: Session, world: World) -> Iterator[dict[str, list[Any]]]:
    """Webhook endpoints and outbox rows, a ticket (with a reply and an attachment) and an engagement (with a
    consultation, a signed requirement version and a deliverable) on top of the world, and every id and code
    that exists, including the SLA calendars and policies the migrations seed."""
    endpoints = []
    for org_key, active in (("operator", True), ("customer_a", True), ("customer_a", False), ("customer_b", True)):
        endpoint = WebhookEndpoint(org_id=world.orgs[org_key].id, url=f"https://hooks.example.test/{org_key}",
                                   secret=f"whsec-fuzz-{org_key}", events=["*"], is_active=active)
        db.add(endpoint)
        endpoints.append(endpoint)
    db.flush()
    dead = enqueue_webhook(db, endpoints[1], "ticket.created", {"n": 1})
    dead.status, dead.attempts, dead.last_error = "dead", dead.max_attempts, "HTTP 500"
    pending = enqueue_webhook(db, endpoints[0], "ticket.created", {"n": 2})
    db.flush()
    ticket, reply, attachment = _seed_ticket(db, world)
    engagement, consultation, version, deliverable = _seed_engagement(db, world)
    user_ids = [u.id for u in world.users.values()]
    codes = [
        code
        for level in ("province", "city", "county")
        for code in db.scalars(select(Region.code).where(Region.level == level).order_by(Region.code).limit(2))
    ] + [org.region_code for org in world.orgs.values() if org.region_code]
    org_ids = [org.id for org in world.orgs.values()]
    # Resources added later: put a few of their rows here, and their ids under the parameter's name.
    values: dict[str, list[Any]] = {
        "org_id": org_ids,
        "user_id": user_ids,
        "token_id": list(db.scalars(select(ApiToken.id).where(ApiToken.user_id.in_(user_ids)))),
        "endpoint_id": [e.id for e in endpoints],
        "message_id": [dead.id, pending.id],
        "code": codes,
        "from": codes,
        "to": codes,
        "region_code": codes,
        "email": [u.email for u in world.users.values()] + [world.users["customer_a_admin"].email.upper()],
        "url": WEBHOOK_URLS,
        "ticket_id": [ticket.id],
        "event_id": [reply.id],
        "attachment_id": [attachment.id],
        "engagement_id": [engagement.id],
        "consultation_id": [consultation.id],
        "number": [version.number],
        "from_number": [version.number],
        "to_number": [version.number],
        "deliverable_id": [deliverable.id],
        "calendar_id": SEEDED_CALENDAR_IDS,
        "policy_id": SEEDED_POLICY_IDS,
        "sla_policy_id": SEEDED_POLICY_IDS,
    }
    db.commit()  # release the savepoint, like the world does; the test's outer transaction still rolls back
    linked = [
        {"ticket_id": ticket.id, "attachment_id": attachment.id},
        {"engagement_id": engagement.id, "consultation_id": consultation.id, "deliverable_id": deliverable.id,
         "number": version.number, "from_number": version.number, "to_number": version.number},
    ]
    _KNOWN.clear()
    _KNOWN.update(values)
    _LINKED[:] = linked
    yield values
    _KNOWN.clear()
    _LINKED.clear()


def _actor(world: World, name: str) -> Any:
    user = world.users[name]
    return actor_for(user, next(org for org in world.orgs.values() if org.id == user.org_id))


def _seed_ticket(db: Session, world: World) -> tuple[Any, Any, Any]:
    """A ticket of customer_a, raised by its member, with a public reply and a PNG attachment."""
    member = _actor(world, "customer_a_member")
    ticket = service_desk.open_ticket(db, member, TicketCreate(title="打印机卡纸", description="三楼打印机卡纸"))
    db.commit()
    reply = service_desk.comment(db, member, ticket.id, CommentIn(body="还是卡纸"))
    attachment = service_desk.add_attachment(db, member, ticket.id, "x.png", "image/png", TINY_PNG)
    db.commit()
    return ticket, reply, attachment


def _seed_engagement(db: Session, world: World) -> tuple[Any, Any, Any, Any]:
    """An engagement of customer_a with a consultation, a signed requirement version and a deliverable."""
    admin = _actor(world, "operator_admin")
    data = EngagementCreate(customer_org_id=world.orgs["customer_a"].id, title="智慧园区", goal="园区访客管理上云")
    engagement = engagement_service.create_engagement(db, admin, data)
    db.commit()
    consultation = engagement_service.add_consultation(
        db, admin, engagement.id, ConsultationCreate(kind="meeting", held_on=date(2026, 1, 5), title="需求沟通"))
    version = engagement_requirements.propose_version(
        db, admin, engagement.id, [ItemIn(title="单点登录"), ItemIn(title="报表导出", priority="could")], None)
    db.commit()
    engagement_requirements.sign(db, _actor(world, "customer_a_admin"), engagement.id, version.number, None)
    for stage in ("consulting", "proposal", "bidding", "won", "delivering"):  # deliverables come after the win
        engagement_service.change_stage(db, admin, engagement.id, StageIn(stage=stage))
    db.commit()
    deliverable = engagement_requirements.create_deliverable(
        db, admin, engagement.id,
        DeliverableCreate(title="单点登录上线", item_keys=["R-1"], delivered_by_org_id=world.orgs["partner_a"].id))
    db.commit()
    return engagement, consultation, version, deliverable


# --- the test -----------------------------------------------------------------------------------------


@pytest.fixture
def per_example_rollback(db: Session) -> Callable[[Callable[[], None]], None]:
    """Run one call inside a SAVEPOINT of the test's connection and roll it back afterwards."""

    def run(call: Callable[[], None]) -> None:
        __tracebackhide__ = True
        connection = db.get_bind()  # the test's Connection; asking for it starts no session transaction
        assert isinstance(connection, Connection)
        savepoint = connection.begin_nested()
        try:
            call()
        finally:
            # Close the session first (its own savepoint and its identity map: rows of this example vanish,
            # and SQLite hands their ids out again), then drop everything the call wrote.
            db.close()
            if savepoint.is_active:
                savepoint.rollback()

    return run


fuzz_settings = settings(
    max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate], suppress_health_check=list(HealthCheck),
)


@operator_schema.parametrize()
@pytest.mark.parametrize("actor", ["operator_admin"])  # also gives each operation its own node id under pytest 9.2
@fuzz_settings
def test_bad_input_never_gives_a_server_error_as_operator_admin(
    case: schemathesis.Case, actor: str, app: Any, world: World, known: dict[str, list[Any]],
    per_example_rollback: Callable[[Callable[[], None]], None],
) -> None:
    __tracebackhide__ = True
    per_example_rollback(lambda: call_and_check(case, app, world.headers(actor)))


@customer_schema.parametrize()
@pytest.mark.parametrize("actor", ["customer_a_admin"])  # also gives each operation its own node id under pytest 9.2
@fuzz_settings
def test_bad_input_never_gives_a_server_error_as_customer_a_admin(
    case: schemathesis.Case, actor: str, app: Any, world: World, known: dict[str, list[Any]],
    per_example_rollback: Callable[[Callable[[], None]], None],
) -> None:
    __tracebackhide__ = True
    per_example_rollback(lambda: call_and_check(case, app, world.headers(actor)))


def call_and_check(case: schemathesis.Case, app: Any, headers: dict[str, str]) -> None:
    __tracebackhide__ = True
    try:
        response = case.call(app=app, headers=headers)
    except Exception as exc:  # the app raised: Starlette answered 500, then re-raised it to us
        raise AssertionError(unhandled_error_report(case, headers, exc)) from None
    case.validate_response(response, checks=CHECKS, headers=headers)


def unhandled_error_report(case: schemathesis.Case, headers: dict[str, str], exc: BaseException) -> str:
    """The request, as curl, and the app's part of the traceback: short to read, and cheap for pytest to
    print (its rendering of the full traceback, through anyio, requests and SQLAlchemy, takes ~2 s each)."""
    frames = traceback.extract_tb(exc.__traceback__)
    app_frames = [frame for frame in frames if f"{os.sep}huoban{os.sep}" in frame.filename]
    if frames and frames[-1] not in app_frames:
        app_frames.append(frames[-1])
    return (
        f"500 Internal Server Error: {case.method.upper()} {case.formatted_path} raised {type(exc).__name__}\n"
        f"Reproduce with:\n    {case.as_curl_command(headers=headers)}\n"
        f"Traceback (app frames, most recent call last):\n{''.join(traceback.format_list(app_frames))}"
        f"{''.join(traceback.format_exception_only(exc))}"
    )


def test_fuzz_callers_are_authenticated(client: Any, world: World) -> None:
    """Guard against a silently useless fuzz run (everything a 401): both fuzzing callers are valid."""
    for actor in ("operator_admin", "customer_a_admin"):
        assert world.call(client, "GET", "/api/v1/me", actor).status_code == 200
