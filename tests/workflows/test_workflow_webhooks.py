"""Webhook steps: private, loopback, link-local and reserved addresses are refused unless
the operator opened them (WEBHOOK_PRIVATE_HOSTS); https only otherwise; no redirects; a real
local server (on loopback, so the operator setting opens it)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from webapp.extensions import db
from webapp.infra import outbound as webhooks
from webapp.infra.errors import ValidationFailed
from webapp.infra.outbound import WebhookFailed, WebhookRefused, post_json
from webapp.models import AutomationEnrollment
from webapp.services import workflows
from webapp.services.customers import upsert_customer
from webapp.services.workflows.engine import run_due
from webapp.services.workflows.steps import validate_step


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hook", "https://localhost/hook", "https://10.1.2.3/hook", "https://192.168.0.10/x",
    "https://169.254.169.254/latest/meta-data", "https://[::1]/hook", "https://0.0.0.0/hook",
    "https://224.0.0.1/hook", "https://240.0.0.1/hook", "https://[::ffff:127.0.0.1]/hook", "https://100.64.0.1/",
])
def test_private_and_special_addresses_are_refused(url):
    with pytest.raises(WebhookRefused, match="address"):
        post_json(url, {}, allowlist=None)


def test_every_resolved_address_is_checked(monkeypatch):
    # A name with one public and one private address is refused: the private one could be used.
    monkeypatch.setattr(webhooks.socket, "getaddrinfo", lambda *a, **k: [
        (2, 1, 6, "", ("93.184.216.34", 443)), (2, 1, 6, "", ("10.0.0.5", 443))])
    with pytest.raises(WebhookRefused, match="10.0.0.5"):
        post_json("https://mixed.example/hook", {}, allowlist=None)


def test_plain_http_needs_the_allowlist():
    with pytest.raises(WebhookRefused, match="https"):
        post_json("http://example.com/hook", {}, allowlist=None)
    with pytest.raises(ValidationFailed) as refused:
        validate_step("webhook", {"url": "http://example.com/hook"})
    assert refused.value.field == "config.url"


class Recorder(BaseHTTPRequestHandler):
    received: list = []
    status = 200

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.received.append((self.path, self.headers["Content-Type"], json.loads(body)))
        self.send_response(Recorder.status)
        if Recorder.status == 302:
            self.send_header("Location", "http://169.254.169.254/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server(app, monkeypatch):
    """A server on loopback, which the operator opened to webhooks."""
    monkeypatch.setitem(app.config, "WEBHOOK_PRIVATE_HOSTS", ("127.0.0.1",))
    Recorder.received, Recorder.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_host_the_operator_opened_gets_the_customer_and_trigger_as_json(tenant_a, local_server):
    ada, _ = upsert_customer(tenant_a.id, {"email": "ada@example.com", "first_name": "Ada"})
    flow = workflows.create_workflow(tenant_a.id, {"name": "Hook", "trigger_type": "purchase",
                                                   "steps": [{"type": "webhook",
                                                              "config": {"url": f"{local_server}/in?x=1"}}]})
    workflows.set_active(tenant_a.id, flow.id, True)
    workflows.process_trigger(tenant_a.id, "purchase", ada, {"order_total": 99})
    db.session.commit()

    run_due()

    [(path, content_type, body)] = Recorder.received
    assert (path, content_type) == ("/in?x=1", "application/json")
    assert body["customer"]["email"] == "ada@example.com" and body["trigger"]["payload"] == {"order_total": 99}
    assert db.session.get(AutomationEnrollment, body["enrollment_id"]).status == "completed"


def test_redirects_are_not_followed(local_server):
    Recorder.status = 302
    with pytest.raises(WebhookFailed, match="redirects are not followed"):
        post_json(f"{local_server}/hook", {"a": 1}, allowlist=None)
    assert len(Recorder.received) == 1


def test_a_refused_address_fails_the_enrollment_at_once_with_the_reason(tenant_a):
    ada, _ = upsert_customer(tenant_a.id, {"email": "ada@example.com"})
    flow = workflows.create_workflow(tenant_a.id, {"name": "Hook", "trigger_type": "purchase", "steps": [
        {"type": "webhook", "config": {"url": "https://169.254.169.254/latest/meta-data"}}]})
    workflows.set_active(tenant_a.id, flow.id, True)
    workflows.process_trigger(tenant_a.id, "purchase", ada, {})
    db.session.commit()

    run_due()

    db.session.expire_all()
    enrollment = db.session.query(AutomationEnrollment).one()
    assert enrollment.status == "failed"
    assert "link-local" in enrollment.exit_reason
