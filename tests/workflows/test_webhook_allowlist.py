"""Who may open what to webhooks: only the operator's WEBHOOK_PRIVATE_HOSTS opens private,
loopback and link-local addresses; a tenant's allowlist opens plain http to public hosts
and nothing more, so in a shared deployment no tenant reaches cloud metadata or our
network. Real local HTTP server, real workflow runs."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import select

from webapp import create_app
from webapp.config import ConfigError
from webapp.extensions import db
from webapp.infra import outbound as webhooks
from webapp.infra.errors import ValidationFailed
from webapp.infra.outbound import WebhookRefused, post_json
from webapp.models import AutomationEnrollment, AutomationStepExecution, Tenant
from webapp.services import workflows
from webapp.services.customers import upsert_customer
from webapp.services.tenant_settings import update_settings
from webapp.services.workflows.engine import run_due
from webapp.services.workflows.steps import validate_step


class Recorder(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.received.append((self.path, json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def loopback_server():
    """A server on 127.0.0.1 that records what it receives; nobody opened it yet."""
    Recorder.received = []
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()


def resolving(monkeypatch, address: str) -> None:
    """Every host name resolves to `address` (the DNS answer a tenant's name could give)."""
    monkeypatch.setattr(webhooks.socket, "getaddrinfo", lambda host, port, *a, **kw: [(2, 1, 6, "", (address, port))])


def set_allowlist(tenant_id: int, raw: str | None) -> None:
    """Stored as an allowlist saved before the operator rule would be (saving now refuses
    private addresses)."""
    db.session.get(Tenant, tenant_id).webhook_allowlist = raw
    db.session.commit()


def run_webhook_workflow(tenant_id: int, url: str) -> AutomationEnrollment:
    ada, _ = upsert_customer(tenant_id, {"email": "ada@example.com"})
    flow = workflows.create_workflow(tenant_id, {"name": "Hook", "trigger_type": "purchase",
                                                 "steps": [{"type": "webhook", "config": {"url": url}}]})
    workflows.set_active(tenant_id, flow.id, True)
    workflows.process_trigger(tenant_id, "purchase", ada, {})
    db.session.commit()
    run_due()
    db.session.expire_all()
    return db.session.scalars(select(AutomationEnrollment)).one()


def test_a_tenant_allowlisted_loopback_address_is_refused_with_the_reason_on_the_step(tenant_a, loopback_server):
    set_allowlist(tenant_a.id, "127.0.0.1")

    enrollment = run_webhook_workflow(tenant_a.id, f"http://127.0.0.1:{loopback_server}/hook")

    assert Recorder.received == []
    assert enrollment.status == "failed"
    assert "loopback" in enrollment.exit_reason and "WEBHOOK_PRIVATE_HOSTS" in enrollment.exit_reason
    [execution] = db.session.scalars(select(AutomationStepExecution)).all()
    assert (execution.step_type, execution.outcome) == ("webhook", "failed")
    assert "resolves to a loopback address (127.0.0.1)" in execution.detail


@pytest.mark.parametrize("address, reason", [("169.254.169.254", "link-local"), ("10.0.0.5", "private"),
                                             ("127.0.0.1", "loopback"), ("::1", "loopback")])
def test_a_tenant_allowlisted_name_that_resolves_to_a_non_public_address_is_refused(monkeypatch, address, reason):
    resolving(monkeypatch, address)

    for url in ("http://hooks.tenant.example/in", "https://hooks.tenant.example/in"):
        with pytest.raises(WebhookRefused) as refused:
            post_json(url, {}, allowlist="hooks.tenant.example")
        assert f"a {reason} address ({address})" in str(refused.value)
        assert "allowlist in Settings opens public hosts only" in str(refused.value)


def test_the_tenant_allowlist_still_opens_plain_http_to_a_public_host():
    url = {"url": "http://hooks.tenant.example/in"}
    assert validate_step("webhook", url, allowlist="hooks.tenant.example") == url
    with pytest.raises(ValidationFailed, match="https"):
        validate_step("webhook", url, allowlist=None)


def test_the_operator_setting_opens_a_private_network(app, monkeypatch, tenant_a, loopback_server):
    monkeypatch.setitem(app.config, "WEBHOOK_PRIVATE_HOSTS", ("127.0.0.0/8",))

    enrollment = run_webhook_workflow(tenant_a.id, f"http://127.0.0.1:{loopback_server}/in")

    assert enrollment.status == "completed"
    [(path, body)] = Recorder.received
    assert path == "/in" and body["customer"]["email"] == "ada@example.com"


def test_the_operator_setting_opens_a_host_by_name(app, monkeypatch, loopback_server):
    monkeypatch.setitem(app.config, "WEBHOOK_PRIVATE_HOSTS", ("crm-hooks.internal",))
    resolving(monkeypatch, "127.0.0.1")

    assert post_json(f"http://crm-hooks.internal:{loopback_server}/in", {"a": 1}, allowlist=None) == "HTTP 200"
    with pytest.raises(WebhookRefused, match="loopback"):  # another name with the same address is not opened
        post_json(f"https://other.internal:{loopback_server}/in", {"a": 1}, allowlist=None)
    assert len(Recorder.received) == 1


@pytest.mark.parametrize("url", ["https://127.0.0.1/hook", "https://169.254.169.254/latest/meta-data",
                                 "https://192.168.0.10/hook"])
def test_an_operator_network_opens_only_itself(app, monkeypatch, url):
    monkeypatch.setitem(app.config, "WEBHOOK_PRIVATE_HOSTS", ("10.0.0.0/8", "hooks.internal"))

    with pytest.raises(WebhookRefused, match="address"):
        post_json(url, {}, allowlist=None)


@pytest.mark.parametrize("entry, reason", [
    ("127.0.0.1", "loopback"), ("169.254.169.254", "link-local"), ("10.0.0.5", "private"),
    ("192.168.1.20", "private"), ("[::1]", "loopback"), ("::ffff:127.0.0.1", "loopback"), ("fe80::1", "link-local"),
    ("localhost", "loopback"), ("api.localhost", "loopback"),
])
def test_saving_a_non_public_address_in_the_allowlist_is_refused(tenant_a, entry, reason):
    tenant = db.session.get(Tenant, tenant_a.id)
    set_allowlist(tenant_a.id, "hooks.tenant.example")

    with pytest.raises(ValidationFailed) as refused:
        update_settings(tenant, {"webhook_allowlist": f"hooks.tenant.example\n{entry}\n"})

    assert refused.value.field == "webhook_allowlist"
    assert f"is a {reason} address" in refused.value.reason and "public hosts only" in refused.value.reason
    db.session.rollback()
    assert db.session.get(Tenant, tenant_a.id).webhook_allowlist == "hooks.tenant.example"


def test_the_operator_setting_is_read_from_the_environment_and_checked_at_start(app, monkeypatch):
    config = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "REDIS_URL")}
    monkeypatch.setenv("WEBHOOK_PRIVATE_HOSTS", "hooks.internal, 10.0.0.0/8 fd00::/8")

    instance = create_app({**config, "TESTING": True})

    assert instance.config["WEBHOOK_PRIVATE_HOSTS"] == ("hooks.internal", "10.0.0.0/8", "fd00::/8")
    monkeypatch.setenv("WEBHOOK_PRIVATE_HOSTS", "hooks.internal, not/a/network")
    with pytest.raises(ConfigError, match="not/a/network"):
        create_app({**config, "TESTING": True})
