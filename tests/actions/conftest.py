"""Real receivers for the actions' effects, and a shop to act on.

``smtp_server`` is an aiosmtpd SMTP server on a free local port (the settings point Django's
SMTP backend at it); ``http_server`` a ``http.server`` in a thread that records each request
and answers with the statuses a test lines up. Both count what arrived, so a test can tell
one delivery from two.
"""

from __future__ import annotations

import contextlib
import copy
import email
import email.policy
import http.server
import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tessera.actions.models import OutboxEntry
from tests.conftest import CUSTOMER

TICKET: dict[str, Any] = {
    "type": "object",
    "x-label": {"en": "Ticket", "zh": "工单"},
    "required": ["title", "customer"],
    "properties": {
        "title": {"x-type": "string", "maxLength": 200},
        "customer": {"x-type": "relation", "x-relation": {"object": "customer"}},
        "contact": {"x-type": "email"},
        "priority": {"x-type": "enum", "enum": ["low", "normal", "high"]},
        "opened_at": {"x-type": "datetime"},
        "notes": {"x-type": "text"},
    },
}
SHOP_CUSTOMER = copy.deepcopy(CUSTOMER)
SHOP_CUSTOMER["properties"]["cc"] = {"x-type": "list", "items": {"x-type": "email"}}
SHOP_CUSTOMER["properties"]["home_city"] = {"x-type": "string", "maxLength": 100}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def shop(publish_object):
    publish_object("customer", SHOP_CUSTOMER)
    publish_object("ticket", TICKET)


@pytest.fixture
def li(shop):
    from tessera.records import service as records

    return records.create(
        "customer",
        {
            "name": "Li Lei",
            "email": "lilei@example.com",
            "city": "Hangzhou",
            "points": 10,
            "tags": ["newsletter"],
        },
    )


# --- SMTP ------------------------------------------------------------------------------------


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: email.message.EmailMessage

    @property
    def key(self) -> str:
        return self.message["Tessera-Delivery"]

    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content().replace("\r\n", "\n")

    def html(self) -> str:
        return self.message.get_body(("html",)).get_content().replace("\r\n", "\n")


@dataclass
class SmtpServer:
    """What a real SMTP server received; ``refuse`` lines up codes for the next messages."""

    host: str
    port: int
    received: list[Mail] = field(default_factory=list)
    refuse: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.lock:
            if self.refuse:
                return self.refuse.pop(0)
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.received.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def keys(self) -> list[str]:
        with self.lock:
            return [mail.key for mail in self.received]


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    server = SmtpServer("127.0.0.1", free_port())
    controller = Controller(server, hostname=server.host, port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def smtp_settings(settings, smtp_server):
    """Django's SMTP backend, pointed at the real local server."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.DEFAULT_FROM_EMAIL = "Tessera Shop <shop@example.com>"
    return smtp_server


# --- HTTP ------------------------------------------------------------------------------------


@dataclass
class Arrival:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpServer:
    """A real HTTP server: records each request, answers with ``statuses`` (then 200)."""

    port: int
    received: list[Arrival] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    extra_headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def keys(self) -> list[str]:
        with self.lock:
            return [a.headers.get("Tessera-Delivery", "") for a in self.received]


def _handler(state: HttpServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with state.lock:  # counted on arrival: a sender that dies after this is a duplicate
                state.received.append(
                    Arrival(self.command, self.path, dict(self.headers.items()), body)
                )
                status = state.statuses.pop(0) if state.statuses else 200
            if state.delay:
                time.sleep(state.delay)
            reply = b'{"ok": true}' if status < 300 else b'{"error": "no"}'
            self.send_response(status)
            for name, value in state.extra_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            with contextlib.suppress(ConnectionError):  # the sender died waiting (kill -9)
                self.wfile.write(reply)

        do_POST = do_PUT = do_PATCH = _answer

        def log_message(self, format: str, *args: Any) -> None:  # keep pytest output quiet
            pass

    return Handler


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a killed sender is expected
            super().handle_error(request, client_address)


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    state = HttpServer(port=0)
    server = _QuietServer(("127.0.0.1", 0), _handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


# --- the outbox ------------------------------------------------------------------------------


@pytest.fixture
def dispatched(monkeypatch) -> list[int]:
    """Ids the outbox hands to the broker, collected instead of sent (no worker here)."""
    from tessera.actions import dispatch

    sent: list[int] = []
    monkeypatch.setattr(dispatch, "publish", sent.append)
    return sent


@pytest.fixture
def fast_retries(settings):
    """Retries due at once and three attempts at most, so a test walks the backoff to its end."""
    settings.TESSERA_ACTIONS = {"max_attempts": 3, "backoff_seconds": 0, "backoff_max_seconds": 0}


def entry(pk: int) -> OutboxEntry:
    return OutboxEntry.objects.get(pk=pk)
