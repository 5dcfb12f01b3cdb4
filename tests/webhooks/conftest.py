"""A receiving server on 127.0.0.1 that verifies each delivery with the Standard Webhooks
reference library and can be told to fail the first N, and helpers to subscribe it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from webapp.services import webhooks


@dataclass
class Received:
    headers: dict[str, str]
    body: dict
    answered: int


@dataclass
class Receiver:
    url: str
    secret: str | None = None
    fail_first: int = 0
    received: list[Received] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: dict[str, str], raw: bytes) -> int:
        with self.lock:
            try:
                body = Webhook(self.secret).verify(raw, headers)
            except (WebhookVerificationError, TypeError) as exc:
                self.unverified.append(str(exc))
                return 400
            status = 500 if len(self.received) < self.fail_first else 200
            self.received.append(Received(headers, body, status))
            return status

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.received]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            status = receiver.handle({k.lower(): v for k, v in self.headers.items()}, raw)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def receiver(app, monkeypatch):
    """A receiver on loopback, which the operator opened to webhooks (WEBHOOK_PRIVATE_HOSTS)."""
    monkeypatch.setitem(app.config, "WEBHOOK_PRIVATE_HOSTS", ("127.0.0.1",))
    server = ThreadingHTTPServer(("127.0.0.1", 0), None)  # type: ignore[arg-type]
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_port}/hooks")
    server.RequestHandlerClass = _handler(receiver)
    server.timeout = 5
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def subscribe(receiver):
    """subscribe(tenant_id, *event_types): an endpoint at the receiver, whose secret it knows."""

    def make(tenant_id: int, *event_types: str, url: str | None = None):
        endpoint, secret = webhooks.create_endpoint(
            tenant_id, {"url": url or receiver.url, "event_types": list(event_types) or ["customer.created"]})
        receiver.secret = secret
        return endpoint

    return make
