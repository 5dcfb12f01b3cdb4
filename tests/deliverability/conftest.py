"""Relay webhook fixtures: keys made here, tenant A set up for every provider, and the SNS
certificate cache seeded as if Amazon's certificate had been fetched."""

from __future__ import annotations

import json

import pytest

from tests.deliverability.relay_support import CERT_URL, SendgridSigner, SnsSigner, set_up_every_provider
from webapp.services.deliverability import ses


@pytest.fixture(scope="session")
def sns_signer() -> SnsSigner:
    return SnsSigner.make()


@pytest.fixture(scope="session")
def sendgrid_signer() -> SendgridSigner:
    return SendgridSigner.make()


@pytest.fixture
def amazon_certificate(app, sns_signer):
    """The signing certificate in the cache under an Amazon URL; forgotten afterwards."""
    with app.app_context():
        ses.remember_certificate(CERT_URL, sns_signer.pem)
    yield CERT_URL
    ses.forget_certificates()


@pytest.fixture
def relay_key(tenant_a, sendgrid_signer) -> str:
    return set_up_every_provider(tenant_a.id, sendgrid_signer)


class Relay:
    """Posts to tenant A's webhook URLs."""

    def __init__(self, client, key: str):
        self.client, self.key = client, key

    def post(self, provider: str, body, headers: dict | None = None, key: str | None = None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.client.post(f"/api/crm/webhooks/{provider}/{key or self.key}", data=data,
                                headers={"Content-Type": "application/json", **(headers or {})})


@pytest.fixture
def relay(client, relay_key) -> Relay:
    return Relay(client, relay_key)


@pytest.fixture
def customers_to_bounce(tenant_a) -> list[str]:
    """Two subscribed customers of tenant A whose addresses the hostile payloads name."""
    from webapp.services import customers

    emails = ["ada@example.com", "bo@example.com"]
    for address in emails:
        customers.upsert_customer(tenant_a.id, {"email": address})
    return emails
