"""Helpers for the service desk tests: tickets through the API, a clock the service reads, small real
files, and a committed database with the people an escalation notifies (for the worker subprocess)."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from huoban.identity.actor import Actor
from huoban.models import Organization, OutboxMessage, SlaClock, SlaEscalation, SlaPolicy, Ticket, User
from huoban.service_desk import routes, service
from huoban.service_desk.schemas import TicketCreate, TicketUpdate, TransitionIn
from tests.conftest import cli_env
from tests.factories import make_org, make_user
from tests.world import World

SHANGHAI = ZoneInfo("Asia/Shanghai")
TICKETS = "/api/v1/tickets"


def cst(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """An instant on Beijing time (UTC+8), the zone of both built-in calendars."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def instant(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class FrozenTime:
    """The instant the service desk believes it is: for its rules (`huoban.service_desk.service.utcnow`) and
    for the clock states and time left its API shows (`huoban.service_desk.routes.utcnow`)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
        self.now = now
        monkeypatch.setattr(service, "utcnow", lambda: self.now)
        monkeypatch.setattr(routes, "utcnow", lambda: self.now)

    def set(self, now: datetime) -> datetime:
        self.now = now
        return now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


# --- through the API ---------------------------------------------------------------------------------


def raise_ticket(client: TestClient, world: World, actor: str = "customer_a_member", **fields: Any) -> dict[str, Any]:
    body = {"title": "核心交换机端口故障", "description": "三楼机房 2 号交换机 24 口不通。", **fields}
    response = world.call(client, "POST", TICKETS, actor, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def read(client: TestClient, world: World, ticket_id: int, actor: str = "operator_agent") -> dict[str, Any]:
    response = world.call(client, "GET", f"{TICKETS}/{ticket_id}", actor)
    assert response.status_code == 200, response.text
    return response.json()


def move(client: TestClient, world: World, ticket_id: int, status: str, actor: str = "operator_agent",
         **extra: Any) -> dict[str, Any]:
    response = world.call(client, "POST", f"{TICKETS}/{ticket_id}/status", actor, json={"status": status, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def reply(client: TestClient, world: World, ticket_id: int, body: str, actor: str = "operator_agent",
          public: bool = True) -> dict[str, Any]:
    response = world.call(client, "POST", f"{TICKETS}/{ticket_id}/comments", actor,
                          json={"body": body, "public": public})
    assert response.status_code == 201, response.text
    return response.json()


def change(client: TestClient, world: World, ticket_id: int, actor: str = "operator_agent",
           **fields: Any) -> dict[str, Any]:
    response = world.call(client, "PATCH", f"{TICKETS}/{ticket_id}", actor, json=fields)
    assert response.status_code == 200, response.text
    return response.json()


def clock(detail: dict[str, Any], metric: str) -> dict[str, Any]:
    """The current cycle of one metric's clock in a ticket's detail."""
    [found] = [c for c in detail["clocks"] if c["metric"] == metric]
    return found


def due(detail: dict[str, Any], metric: str) -> datetime:
    value = instant(clock(detail, metric)["due_at"])
    assert value is not None
    return value


def error_fields(response: Any) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


# --- small real files --------------------------------------------------------------------------------


def png_bytes(width: int = 3, height: int = 2) -> bytes:
    """A valid RGB PNG of the given size (decodable by any image library)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"".join(bytes((x * 80 % 256, y * 120 % 256, 200)) for x in range(width))
                   for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def pdf_bytes(text: str = "Huoban") -> bytes:
    """A one-page PDF 1.4 with a correct cross-reference table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# --- a committed database for the worker subprocess ----------------------------------------------------


def actor_of(session: Session, user: User) -> Actor:
    org = session.get_one(Organization, user.org_id)
    return Actor(user_id=user.id, org_id=org.id, org_kind=org.kind, role=user.role, email=user.email,
                 display_name=user.display_name)


@dataclass
class Desk:
    """A fresh committed database with an operator (admin, agent, two dispatchers, an account manager) and
    one customer on a 24x7 default policy, so clock percentages follow the wall clock."""

    url: str
    engine: Engine
    session: sessionmaker[Session]
    logs: Path
    time: FrozenTime
    ids: dict[str, int] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)

    def seed(self) -> None:
        with self.session() as s, s.begin():
            operator = make_org(s, "operator", "运营方")
            customer = make_org(s, "customer", "宁波市大数据局")
            people = {
                "admin": (operator, "admin"), "agent": (operator, "agent"), "dispatcher": (operator, "dispatcher"),
                "dispatcher2": (operator, "dispatcher"), "account_manager": (operator, "account_manager"),
                "customer": (customer, "customer_member"),
            }
            for name, (org, role) in people.items():
                user = make_user(s, org, role, email=f"{name}@desk.test", display_name=name)
                self.ids[name], self.emails[name] = user.id, user.email
            customer.account_manager_id = self.ids["account_manager"]
            critical = s.get_one(SlaPolicy, 2)  # the seeded 7x24 policy
            s.add(SlaPolicy(name="宁波市大数据局 7x24", calendar_id=critical.calendar_id, customer_org_id=customer.id,
                            is_default=True, targets=critical.targets, pause_statuses=critical.pause_statuses,
                            escalations=critical.escalations, is_active=True))
            self.ids["customer_org"] = customer.id

    def open_ticket(self, s: Session, at: datetime, priority: str = "P1", assign: bool = True) -> Ticket:
        """An agent raises a ticket for the customer at `at` (and assigns it to themself)."""
        self.time.set(at)
        agent = actor_of(s, s.get_one(User, self.ids["agent"]))
        ticket = service.open_ticket(s, agent, TicketCreate(
            title=f"{priority} 专线中断", description="机房至政务云专线中断。", priority=priority,
            customer_org_id=self.ids["customer_org"], raised_by_id=self.ids["customer"]))
        if assign:
            service.update_ticket(s, agent, ticket.id, TicketUpdate(assignee_id=self.ids["agent"]))
        return ticket

    def move(self, s: Session, ticket_id: int, status: str, at: datetime) -> None:
        self.time.set(at)
        agent = actor_of(s, s.get_one(User, self.ids["agent"]))
        service.transition(s, agent, ticket_id, TransitionIn(status=status))

    def clocks(self, ticket_id: int | None = None) -> list[SlaClock]:
        stmt = select(SlaClock).order_by(SlaClock.id)
        if ticket_id is not None:
            stmt = stmt.where(SlaClock.ticket_id == ticket_id)
        with self.session() as s:
            return list(s.scalars(stmt))

    def escalations(self) -> list[SlaEscalation]:
        with self.session() as s:
            return list(s.scalars(select(SlaEscalation).order_by(SlaEscalation.id)))

    def sla_mails(self) -> list[OutboxMessage]:
        with self.session() as s:
            return list(s.scalars(select(OutboxMessage).where(OutboxMessage.topic.like("sla.%"))
                                  .order_by(OutboxMessage.id)))

    def env(self, **extra: str) -> dict[str, str]:
        return cli_env(self.url, HUOBAN_WORKER_POLL_SECONDS="0.1", **extra)

    def worker_once(self) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "huoban", "worker", "--once", "--name", "once"],
                              env=self.env(), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done

    def start_worker(self, name: str, **extra: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        return subprocess.Popen([sys.executable, "-m", "huoban", "worker", "--name", name],
                                env=self.env(**extra), stdout=log, stderr=subprocess.STDOUT)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")


@contextmanager
def killed_at_exit(proc: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
