"""The real `huoban worker` process against a fresh database, a local HTTP receiver and a local SMTP sink:
signed delivery, retries with backoff, dead letters, crash recovery, idempotent enqueueing, e-mail,
and (on PostgreSQL) two workers sharing one outbox without delivering anything twice."""

from __future__ import annotations

import email
import email.policy
import json
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from huoban.db import make_engine
from huoban.jobs.outbox import enqueue_email, enqueue_webhook
from huoban.jobs.signing import verify
from huoban.models import OutboxMessage, WebhookEndpoint, utcnow
from tests.conftest import TEST_DATABASE_URL, cli_env
from tests.factories import make_org

on_postgres = pytest.mark.skipif(not TEST_DATABASE_URL.startswith("postgresql"), reason="needs PostgreSQL")


# --- a webhook receiver ----------------------------------------------------------------------------


@dataclass
class Receiver:
    """Answers POSTs with the scripted statuses (then 200) and keeps every request it got."""

    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    block_first: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    got_request: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def deliveries(self) -> list[str]:
        with self.lock:
            return [r["headers"]["x-huoban-delivery"] for r in self.requests]

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
        with self.lock:
            headers = {k.lower(): v for k, v in handler.headers.items()}
            self.requests.append({"headers": headers, "body": body})
            first = len(self.requests) == 1
            status = self.statuses.pop(0) if self.statuses else 200
        self.got_request.set()
        if self.block_first and first:
            self.release.wait(30)
        time.sleep(self.delay)
        try:
            handler.send_response(status)
            handler.send_header("Content-Length", "2")
            handler.end_headers()
            handler.wfile.write(b"ok")
        except OSError:
            pass  # the worker died while we were blocked


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    started: list[ThreadingHTTPServer] = []

    def start(**kwargs: Any) -> Receiver:
        rec = Receiver(**kwargs)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                rec.handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        rec.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        rec.server.daemon_threads = True
        threading.Thread(target=rec.server.serve_forever, daemon=True).start()
        started.append(rec.server)
        return rec

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


# --- a tiny SMTP sink ------------------------------------------------------------------------------


class SmtpSink:
    """Speaks just enough SMTP (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) to receive messages."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 sink ESMTP")
                mail_from, rcpts = "", []
                while line := self.rfile.readline():
                    command = line.decode("utf-8", "replace").rstrip("\r\n")
                    verb, _, arg = command.partition(" ")
                    verb = verb.upper()
                    if verb == "EHLO":
                        self.reply("250-sink")
                        self.reply("250 8BITMIME")
                    elif verb in ("HELO", "NOOP", "RSET"):
                        if verb == "RSET":
                            mail_from, rcpts = "", []
                        self.reply("250 OK")
                    elif verb == "MAIL":
                        mail_from = arg.partition(":")[2].split()[0].strip("<>")
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        rcpts.append(arg.partition(":")[2].split()[0].strip("<>"))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 end with <CRLF>.<CRLF>")
                        lines = []
                        while (data := self.rfile.readline()) not in (b".\r\n", b""):
                            lines.append(data[1:] if data.startswith(b"..") else data)
                        sink.messages.append((mail_from, rcpts, b"".join(lines)))
                        mail_from, rcpts = "", []
                        self.reply("250 queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 not implemented")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- a fresh database and the worker process -----------------------------------------------------


@dataclass
class Fresh:
    url: str
    engine: Engine
    session: sessionmaker[Session]
    logs: Path

    def endpoint(self, url: str, events: tuple[str, ...] = ("*",)) -> tuple[int, str]:
        with self.session() as s, s.begin():
            org = make_org(s, "customer")
            ep = WebhookEndpoint(org_id=org.id, url=url, secret=f"whsec-{org.id}-test", events=list(events),
                                 is_active=True)
            s.add(ep)
            s.flush()
            return ep.id, ep.secret

    def webhook(self, endpoint_id: int, event: str = "ticket.created", data: dict[str, Any] | None = None,
                **row: Any) -> int:
        with self.session() as s, s.begin():
            msg = enqueue_webhook(s, s.get_one(WebhookEndpoint, endpoint_id), event, data or {"n": 1})
            for key, value in row.items():
                setattr(msg, key, value)
            s.flush()
            return msg.id

    def row(self, message_id: int) -> OutboxMessage:
        with self.session() as s:
            return s.get_one(OutboxMessage, message_id)

    def rows(self) -> list[OutboxMessage]:
        with self.session() as s:
            return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))

    def make_due(self, message_id: int) -> None:
        with self.session() as s, s.begin():
            s.execute(update(OutboxMessage).where(OutboxMessage.id == message_id)
                      .values(next_attempt_at=utcnow() - timedelta(seconds=1)))

    def env(self, **extra: str) -> dict[str, str]:
        return cli_env(self.url, HUOBAN_WORKER_POLL_SECONDS="0.1", **extra)

    def run_once(self, **extra: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "huoban", "worker", "--once", "--name", "once"],
                              env=self.env(**extra), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done

    def start(self, name: str, **extra: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        return subprocess.Popen([sys.executable, "-m", "huoban", "worker", "--name", name],
                                env=self.env(**extra), stdout=log, stderr=subprocess.STDOUT)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")


@pytest.fixture
def fresh(fresh_database_url: str, tmp_path: Path) -> Iterator[Fresh]:
    engine = make_engine(fresh_database_url)
    yield Fresh(fresh_database_url, engine, sessionmaker(engine, expire_on_commit=False), tmp_path)
    engine.dispose()


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Worker processes a test started; any still running at the end are killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def wait_for(check: Callable[[], bool], timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(15)


# --- the tests -------------------------------------------------------------------------------------


def test_webhook_is_delivered_with_a_valid_signature_and_marked_done(fresh, receiver):
    rec = receiver()
    endpoint_id, secret = fresh.endpoint(rec.url)
    message_id = fresh.webhook(endpoint_id, "ticket.created", {"ticket_id": 42, "title": "网络中断"})

    fresh.run_once()

    [got] = rec.requests
    headers, body = got["headers"], got["body"]
    assert headers["content-type"] == "application/json"
    assert headers["x-huoban-event"] == "ticket.created"
    assert headers["x-huoban-delivery"] == str(message_id)
    assert abs(int(headers["x-huoban-timestamp"]) - time.time()) < 60
    assert headers["x-huoban-signature"].startswith("sha256=")
    assert verify(secret, headers["x-huoban-timestamp"], body, headers["x-huoban-signature"])
    assert not verify("wrong-secret", headers["x-huoban-timestamp"], body, headers["x-huoban-signature"])
    assert not verify(secret, headers["x-huoban-timestamp"], body + b" ", headers["x-huoban-signature"])
    assert not verify(secret, int(headers["x-huoban-timestamp"]) - 3600, body, headers["x-huoban-signature"])
    payload = json.loads(body)
    assert (payload["id"], payload["event"], payload["data"]) == (
        message_id, "ticket.created", {"ticket_id": 42, "title": "网络中断"})
    row = fresh.row(message_id)
    assert (row.status, row.attempts, row.locked_until, row.last_error) == ("done", 1, None, None)
    assert row.delivered_at is not None and row.claimed_by == "once"


def test_failures_retry_with_growing_backoff_until_delivered(fresh, receiver):
    rec = receiver(statuses=[500, 500])
    endpoint_id, _ = fresh.endpoint(rec.url)
    message_id = fresh.webhook(endpoint_id)

    delays = []
    for attempt in (1, 2):
        fresh.run_once()
        finished = utcnow()
        row = fresh.row(message_id)
        assert (row.status, row.attempts) == ("pending", attempt)
        assert row.last_error.startswith("HTTP 500")
        delays.append((row.next_attempt_at - finished).total_seconds())
        fresh.run_once()  # not due yet: nothing is sent
        assert len(rec.requests) == attempt
        fresh.make_due(message_id)
    # min(2**(attempts-1) * 30 s, 6 h) ± 10 %
    assert 30 * 0.9 - 5 < delays[0] <= 30 * 1.1
    assert 60 * 0.9 - 5 < delays[1] <= 60 * 1.1

    fresh.run_once()
    row = fresh.row(message_id)
    assert (row.status, row.attempts) == ("done", 3)
    assert rec.deliveries() == [str(message_id)] * 3


def test_a_row_that_keeps_failing_goes_dead(fresh, receiver, processes):
    rec = receiver(statuses=[500, 502, 503, 504])
    endpoint_id, _ = fresh.endpoint(rec.url)
    failing = fresh.webhook(endpoint_id, max_attempts=3)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    unreachable_id, _ = fresh.endpoint(f"http://127.0.0.1:{closed_port}/hook")
    unreachable = fresh.webhook(unreachable_id, max_attempts=2)

    worker = fresh.start("w", HUOBAN_OUTBOX_BACKOFF_SECONDS="0.05")
    processes.append(worker)
    wait_for(lambda: {r.status for r in fresh.rows()} == {"dead"}, what="both rows dead")
    assert stop(worker) == 0, fresh.log("w")

    row = fresh.row(failing)
    assert (row.status, row.attempts, row.delivered_at) == ("dead", 3, None)
    assert row.last_error.startswith("HTTP 503")
    assert rec.deliveries() == [str(failing)] * 3
    row = fresh.row(unreachable)
    assert (row.status, row.attempts) == ("dead", 2)
    assert "ConnectError" in row.last_error
    assert "stopped" in fresh.log("w")


def test_a_rolled_back_transaction_leaves_no_outbox_row(fresh, receiver):
    rec = receiver()
    endpoint_id, _ = fresh.endpoint(rec.url)
    with fresh.session() as s:
        s.begin()
        enqueue_webhook(s, s.get_one(WebhookEndpoint, endpoint_id), "ticket.created", {"n": 1})
        enqueue_email(s, ["a@example.test"], "hello", "body")
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 2
        s.rollback()
    assert fresh.rows() == []
    fresh.run_once()
    assert rec.requests == []


def test_the_same_dedupe_key_twice_makes_one_row(fresh, receiver):
    rec = receiver()
    endpoint_id, _ = fresh.endpoint(rec.url)
    ids = []
    for _ in range(2):
        with fresh.session() as s, s.begin():
            endpoint = s.get_one(WebhookEndpoint, endpoint_id)
            first = enqueue_webhook(s, endpoint, "ticket.created", {"n": 1}, dedupe_key="ticket-1-created")
            again = enqueue_webhook(s, endpoint, "ticket.created", {"n": 1}, dedupe_key="ticket-1-created")
            assert first is again
            ids.append(first.id)
    assert ids[0] == ids[1] and len(fresh.rows()) == 1
    fresh.run_once()
    assert rec.deliveries() == [str(ids[0])]


@on_postgres
def test_concurrent_enqueues_with_one_dedupe_key_make_one_row(fresh):
    """The second insert waits on the unique index, fails inside its savepoint and returns the first row."""
    with fresh.session() as first:
        first.begin()
        mine = enqueue_email(first, ["a@example.test"], "once", "body", dedupe_key="race")
        result: dict[str, Any] = {}

        def other() -> None:
            try:
                with fresh.session() as s, s.begin():
                    result["id"] = enqueue_email(s, ["a@example.test"], "once", "body", dedupe_key="race").id
            except Exception as exc:  # pragma: no cover - reported below
                result["error"] = exc

        thread = threading.Thread(target=other)
        thread.start()

        def waiting() -> bool:  # a new transaction each time: pg_stat_activity is a per-transaction snapshot
            with fresh.engine.connect() as probe:
                return probe.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()")) == 1

        wait_for(waiting, timeout=10, what="the second insert to wait")
        first.commit()
        thread.join(15)
    assert "error" not in result, result.get("error")
    assert result["id"] == mine.id
    assert len(fresh.rows()) == 1


def test_a_worker_killed_mid_delivery_loses_nothing(fresh, receiver, processes):
    rec = receiver(block_first=True)
    endpoint_id, _ = fresh.endpoint(rec.url)
    message_id = fresh.webhook(endpoint_id)

    first = fresh.start("doomed", HUOBAN_WORKER_LEASE_SECONDS="2")
    processes.append(first)
    assert rec.got_request.wait(20), fresh.log("doomed")
    row = fresh.row(message_id)
    assert (row.status, row.claimed_by, row.attempts) == ("sending", "doomed", 1)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    rec.release.set()

    second = fresh.start("rescuer", HUOBAN_WORKER_LEASE_SECONDS="2")
    processes.append(second)
    wait_for(lambda: fresh.row(message_id).status == "done", what="redelivery")
    assert stop(second) == 0, fresh.log("rescuer")

    row = fresh.row(message_id)
    assert (row.status, row.attempts, row.claimed_by) == ("done", 2, "rescuer")
    assert rec.deliveries() == [str(message_id)] * 2


def test_sigterm_lets_the_current_delivery_finish_and_gives_back_the_rest(fresh, receiver, processes):
    rec = receiver(block_first=True)
    endpoint_id, _ = fresh.endpoint(rec.url)
    current, queued = fresh.webhook(endpoint_id), fresh.webhook(endpoint_id)

    worker = fresh.start("graceful")
    processes.append(worker)
    assert rec.got_request.wait(20), fresh.log("graceful")
    worker.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert worker.poll() is None  # still finishing the delivery in flight
    rec.release.set()
    assert worker.wait(15) == 0, fresh.log("graceful")

    assert "SIGTERM" in fresh.log("graceful")
    row = fresh.row(current)
    assert (row.status, row.attempts) == ("done", 1)
    row = fresh.row(queued)  # claimed in the same batch, never tried: back in line, attempt not counted
    assert (row.status, row.attempts, row.claimed_by, row.locked_until) == ("pending", 0, None, None)
    assert rec.deliveries() == [str(current)]


def test_email_waits_for_smtp_then_arrives_with_subject_and_bodies(fresh):
    with fresh.session() as s, s.begin():
        message_id = enqueue_email(s, ["li.lei@customer.test", "ops@customer.test"], "工单 #42 已受理",
                                   "您好，\n.leading dot line\n工单已受理。", "<p>工单已受理</p>").id

    fresh.run_once()  # no HUOBAN_SMTP_HOST
    row = fresh.row(message_id)
    assert (row.status, row.attempts) == ("pending", 1)
    assert "SMTP is not configured" in row.last_error

    sink = SmtpSink()
    try:
        fresh.make_due(message_id)
        fresh.run_once(HUOBAN_SMTP_HOST="127.0.0.1", HUOBAN_SMTP_PORT=str(sink.port),
                       HUOBAN_MAIL_FROM="noreply@huoban.test")
    finally:
        sink.close()
    [(mail_from, rcpts, data)] = sink.messages
    assert mail_from == "noreply@huoban.test"
    assert rcpts == ["li.lei@customer.test", "ops@customer.test"]
    mail = email.message_from_bytes(data, policy=email.policy.default)
    assert mail["Subject"] == "工单 #42 已受理"
    assert mail["To"] == "li.lei@customer.test, ops@customer.test"
    assert mail["Message-ID"] == f"<huoban-outbox-{message_id}@huoban.test>"
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(("plain",)).get_content()
    assert "工单已受理。" in plain and "\n.leading dot line\n" in plain.replace("\r\n", "\n")
    assert "<p>工单已受理</p>" in mail.get_body(("html",)).get_content()
    row = fresh.row(message_id)
    assert (row.status, row.attempts) == ("done", 2)


@on_postgres
def test_two_workers_deliver_each_of_40_rows_exactly_once(fresh, receiver, processes):
    rec = receiver(delay=0.02)
    endpoint_id, _ = fresh.endpoint(rec.url)
    workers = {name: fresh.start(name) for name in ("alpha", "beta")}
    processes.extend(workers.values())
    for name in workers:
        wait_for(lambda name=name: f"worker {name} started" in fresh.log(name), what=f"{name} to start")
    with fresh.session() as s, s.begin():  # all at once, so both workers find them due together
        endpoint = s.get_one(WebhookEndpoint, endpoint_id)
        ids = [enqueue_webhook(s, endpoint, "ticket.created", {"n": n}).id for n in range(40)]

    wait_for(lambda: all(r.status == "done" for r in fresh.rows()), timeout=30, what="all 40 delivered")
    for name, proc in workers.items():
        assert stop(proc) == 0, fresh.log(name)

    assert Counter(rec.deliveries()) == Counter({str(i): 1 for i in ids})
    rows = fresh.rows()
    assert all(r.attempts == 1 for r in rows)
    assert set(Counter(r.claimed_by for r in rows)) == {"alpha", "beta"}
