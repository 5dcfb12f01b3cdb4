"""Fixtures of the workflow tests."""

from __future__ import annotations

import pytest

from webapp.extensions import db
from webapp.models import Tenant


@pytest.fixture
def tenant(tenant_a):
    """Tenant A's id, ready to send (a postal address and a sender)."""
    row = db.session.get(Tenant, tenant_a.id)
    row.postal_address, row.sender_email = "1 Stage Door, Leeds", "hello@alpha.example.com"
    db.session.commit()
    return tenant_a.id
