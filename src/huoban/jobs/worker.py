"""The outbox worker: claim due rows, deliver them (SMTP e-mail, signed webhooks), record the outcome.

Each step is its own short transaction: the claim commits before anything is sent, so a worker that
dies mid-delivery leaves a row in status 'sending' whose lease (`locked_until`) runs out, and the next
worker claims it again. Delivery is therefore at least once; webhook receivers drop repeats by
`X-Huoban-Delivery` (the outbox id), and e-mails carry a Message-ID derived from it.

Claims use `FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite (no row locks) a conditional UPDATE
that still expects the status and attempt count it read makes the claim exclusive. Several workers
may run at once. The lease should exceed the webhook timeout; a batch is sized to fit in the lease.

Failures retry with exponential backoff, min(2**(attempts-1) * base, 6 h) with ±10 % jitter, where
base is 30 s or the optional environment variable `HUOBAN_OUTBOX_BACKOFF_SECONDS`; after the row's
`max_attempts` it becomes 'dead' and stays for operators (GET /api/v1/outbox, then retry).
SIGTERM or SIGINT lets the current row finish, then the worker exits.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import smtplib
import socket
import threading
import time
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from huoban.config import Settings, get_settings
from huoban.db import get_sessionmaker, is_postgres, session_scope
from huoban.jobs.outbox import EMAIL, WEBHOOK
from huoban.jobs.signing import sign
from huoban.jobs.targets import resolves_to_private
from huoban.models import OutboxMessage, WebhookEndpoint, utcnow

log = logging.getLogger("huoban.worker")

MAX_BACKOFF = timedelta(hours=6)
MAX_ERROR_CHARS = 2000
MAX_BATCH = 10


class DeliveryError(Exception):
    """A delivery that did not succeed; the message is stored as the row's last_error."""


def backoff_base_seconds() -> float:
    return float(os.environ.get("HUOBAN_OUTBOX_BACKOFF_SECONDS", "30"))


def backoff(attempts: int, base_seconds: float | None = None) -> timedelta:
    """Delay before the next try after `attempts` failed ones: doubling from the base, at most 6 h, ±10 %."""
    base = backoff_base_seconds() if base_seconds is None else base_seconds
    seconds = min(2 ** max(attempts - 1, 0) * base, MAX_BACKOFF.total_seconds())
    return timedelta(seconds=seconds * random.uniform(0.9, 1.1))


# --- claiming ------------------------------------------------------------------------------------


def claim(
    session: Session, worker_name: str, batch: int, lease_seconds: float, due_before: datetime | None = None
) -> list[OutboxMessage]:
    """Mark up to `batch` due rows as 'sending' by this worker for `lease_seconds` and return them.

    Due: 'pending' with next_attempt_at <= now (or `due_before`), or 'sending' whose lease ran out
    (a worker died). The caller commits before delivering, so every other worker sees the claim.
    """
    now = utcnow()
    due = or_(
        and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= (due_before or now)),
        and_(OutboxMessage.status == "sending", OutboxMessage.locked_until < now),
    )
    stmt = select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.attempts).where(due)
    stmt = stmt.order_by(OutboxMessage.id).limit(batch)
    if is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    candidates = session.execute(stmt).all()
    locked_until = now + timedelta(seconds=lease_seconds)
    claimed_ids = []
    for row_id, status, attempts in candidates:
        # Still as we read it? On SQLite another worker may have claimed it since; then rowcount is 0.
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id, OutboxMessage.status == status,
                   OutboxMessage.attempts == attempts)
            .values(status="sending", claimed_by=worker_name, locked_until=locked_until,
                    attempts=attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed_ids.append(row_id)
    if not claimed_ids:
        return []
    rows = session.scalars(
        select(OutboxMessage).where(OutboxMessage.id.in_(claimed_ids)).order_by(OutboxMessage.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


# --- delivering ----------------------------------------------------------------------------------


def build_email(message_id: int, payload: dict[str, Any], settings: Settings) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = settings.mail_from
    mail["To"] = ", ".join(payload["to"])
    mail["Subject"] = payload["subject"]
    mail["Date"] = formatdate(localtime=False)
    domain = settings.mail_from.rpartition("@")[2] or "huoban.localhost"
    mail["Message-ID"] = f"<huoban-outbox-{message_id}@{domain}>"
    mail.set_content(payload["body_text"])
    if payload.get("body_html"):
        mail.add_alternative(payload["body_html"], subtype="html")
    return mail


def send_email(message: OutboxMessage, settings: Settings) -> None:
    if not settings.smtp_host:
        raise DeliveryError("SMTP is not configured (set HUOBAN_SMTP_HOST)")
    mail = build_email(message.id, message.payload, settings)
    timeout = settings.smtp_timeout_seconds
    smtp_class = smtplib.SMTP_SSL if settings.smtp_ssl else smtplib.SMTP
    with smtp_class(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
        if settings.smtp_starttls and not settings.smtp_ssl:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password)
        refused = smtp.send_message(mail)
    if refused:
        raise DeliveryError(f"recipients refused: {', '.join(sorted(refused))}")


def webhook_body(message: OutboxMessage) -> bytes:
    payload = message.payload
    body = {"id": message.id, "event": payload["event"], "occurred_at": payload.get("occurred_at"),
            "data": payload.get("data", {})}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


def load_endpoint(endpoint_id: int) -> WebhookEndpoint | None:
    """The endpoint as it is now (URL and secret may have changed since the row was queued)."""
    with get_sessionmaker()() as session:
        return session.get(WebhookEndpoint, endpoint_id)


def send_webhook(message: OutboxMessage, settings: Settings) -> None:
    endpoint = load_endpoint(message.payload["endpoint_id"])
    if endpoint is None:
        raise DeliveryError(f"webhook endpoint {message.payload['endpoint_id']} no longer exists")
    if not endpoint.is_active:
        raise DeliveryError(f"webhook endpoint {endpoint.id} is inactive")
    parts = urlsplit(endpoint.url)
    if not settings.webhook_allow_private and resolves_to_private(parts.hostname or "", parts.port or 443):
        raise DeliveryError(f"{parts.hostname} resolves to a non-public address; refused")
    body = webhook_body(message)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Huoban-Webhooks/1",
        "X-Huoban-Event": message.payload["event"],
        "X-Huoban-Delivery": str(message.id),
        "X-Huoban-Timestamp": str(timestamp),
        "X-Huoban-Signature": sign(endpoint.secret, timestamp, body),
    }
    try:
        response = httpx.post(endpoint.url, content=body, headers=headers,
                              timeout=settings.webhook_timeout_seconds, follow_redirects=False)
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"timed out after {settings.webhook_timeout_seconds:g} s: {exc!r}") from exc
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"HTTP {response.status_code} from {endpoint.url}: {response.text[:500]}")


def deliver(message: OutboxMessage, settings: Settings) -> None:
    """Send one claimed row; raise on any failure."""
    if message.kind == EMAIL:
        send_email(message, settings)
    elif message.kind == WEBHOOK:
        send_webhook(message, settings)
    else:
        raise DeliveryError(f"unknown outbox kind {message.kind!r}")


# --- recording the outcome -------------------------------------------------------------------------


def mark_done(session: Session, message: OutboxMessage) -> None:
    """Delivered wins over any later state: even if the lease ran out and another worker re-claimed it."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.status != "done")
        .values(status="done", delivered_at=utcnow(), locked_until=None, last_error=None)
        .execution_options(synchronize_session=False)
    )


def mark_failed(session: Session, message: OutboxMessage, error: str) -> str | None:
    """Schedule a retry or bury the row. Only if this attempt still owns it (same status and attempt
    count): a stale worker must not overwrite a newer attempt. Returns the new status, or None."""
    now = utcnow()
    if message.attempts < message.max_attempts:
        values: dict[str, Any] = {"status": "pending", "next_attempt_at": now + backoff(message.attempts)}
    else:
        values = {"status": "dead"}
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.status == "sending",
               OutboxMessage.attempts == message.attempts)
        .values(locked_until=None, last_error=error[:MAX_ERROR_CHARS], **values)
        .execution_options(synchronize_session=False)
    )
    return values["status"] if result.rowcount == 1 else None  # type: ignore[attr-defined]


def release(session: Session, messages: list[OutboxMessage]) -> None:
    """Give back claimed rows not yet tried (on shutdown), so they need not wait for the lease."""
    for message in messages:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id, OutboxMessage.status == "sending",
                   OutboxMessage.attempts == message.attempts, OutboxMessage.claimed_by == message.claimed_by)
            .values(status="pending", attempts=message.attempts - 1, locked_until=None, claimed_by=None)
            .execution_options(synchronize_session=False)
        )


def process(message: OutboxMessage, settings: Settings) -> str | None:
    """Deliver one claimed row and commit its outcome; returns the new status."""
    if message.locked_until is not None and message.locked_until <= utcnow():
        log.warning("outbox %s: lease ran out before delivery; leaving it for the next claim", message.id)
        return None
    started = time.monotonic()
    try:
        deliver(message, settings)
    except Exception as exc:  # every failure is recorded on the row and retried
        error = str(exc) if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
        with session_scope() as session:
            status = mark_failed(session, message, error)
        log.warning("outbox %s (%s %s) attempt %s/%s failed: %s -> %s", message.id, message.kind,
                    message.topic, message.attempts, message.max_attempts, error[:300],
                    status or "taken over by another worker")
        return status
    with session_scope() as session:
        mark_done(session, message)
    log.info("outbox %s (%s %s) delivered in %.0f ms (attempt %s)", message.id, message.kind, message.topic,
             (time.monotonic() - started) * 1000, message.attempts)
    return "done"


# --- the loop --------------------------------------------------------------------------------------


class StopFlag:
    """Set by SIGTERM/SIGINT; the loop checks it between rows, so the current delivery finishes."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.signal_name = signal.Signals(signum).name  # logged by the loop: no I/O in a signal handler
        self.event.set()

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    @property
    def stopped(self) -> bool:
        return self.event.is_set()


def batch_size(settings: Settings) -> int:
    """As many rows as can be delivered within one lease even if each one times out."""
    per_row = settings.webhook_timeout_seconds + 1
    return max(1, min(MAX_BATCH, int(settings.worker_lease_seconds // per_row)))


def run_sweeps(once: bool) -> None:
    """Deadline sweeps that live in their domains (SLA escalations); they enqueue into the outbox."""
    from huoban.sla.sweep import sweep

    try:
        sweep()
    except SQLAlchemyError:
        if once:
            raise
        log.exception("SLA sweep failed; trying again at the next interval")


def run_worker(once: bool = False, name: str | None = None) -> int:
    """Deliver the outbox until stopped (or, with `once`, until nothing that was due at the start is
    left). Returns the number of rows processed."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    name = (name or f"{socket.gethostname()}:{os.getpid()}")[:100]
    stop = StopFlag()
    stop.install()
    started = utcnow()
    processed = 0
    size = batch_size(settings)
    next_sweep = 0.0
    log.info("worker %s started (batch %s, lease %s s)", name, size, settings.worker_lease_seconds)
    try:
        while not stop.stopped:
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + settings.sweep_interval_seconds
                run_sweeps(once)
            try:
                # With --once, rows rescheduled during this run are not due again until the next run.
                with session_scope() as session:
                    messages = claim(session, name, size, settings.worker_lease_seconds,
                                     due_before=started if once else None)
                for index, message in enumerate(messages):
                    if stop.stopped:
                        with session_scope() as session:
                            release(session, messages[index:])
                        break
                    process(message, settings)
                    processed += 1
            except SQLAlchemyError:
                if once:
                    raise
                log.exception("database error; trying again in %s s", settings.worker_poll_seconds)
                messages = []
            if not messages:
                if once:
                    break
                stop.event.wait(settings.worker_poll_seconds)
    finally:
        stop.restore()
        reason = f" on {stop.signal_name}" if stop.signal_name else ""
        log.info("worker %s stopped%s after %s rows", name, reason, processed)
    return processed
