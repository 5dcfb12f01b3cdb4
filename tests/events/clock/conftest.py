"""Fixtures of the performance-clock tests: a tenant ready to send, and a real SMTP server."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller

from tests.events.clock.clock_support import Inbox
from webapp.extensions import db
from webapp.models import Tenant
from webapp.testing import free_port


@pytest.fixture
def tenant(tenant_a):
    """Tenant A's id, ready to send (a postal address and a sender), in Europe/London."""
    row = db.session.get(Tenant, tenant_a.id)
    row.postal_address, row.sender_email, row.timezone = "1 Stage Door, Leeds", "hello@alpha.example.com", \
        "Europe/London"
    db.session.commit()
    return tenant_a.id


@pytest.fixture
def inbox(app, monkeypatch):
    """A real SMTP server on a free loopback port, and MAIL_URL pointing at it for the test."""
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    monkeypatch.setitem(app.config, "MAIL_URL", f"smtp://127.0.0.1:{port}")
    yield handler
    controller.stop()
