"""`flask crm create-tenant`: one JSON line an installer can parse, and a working token."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import ApiToken, Tenant, User


def create_tenant(runner, *extra: str, email: str = "Boss@Venue.example.com"):
    return runner.invoke(args=["crm", "create-tenant", "--name", "Venue One", "--admin-email", email,
                               "--admin-password", "long-enough-pw", *extra])


def counts() -> tuple[int, int, int]:
    return tuple(db.session.scalar(select(func.count()).select_from(model)) for model in (Tenant, User, ApiToken))


def test_create_tenant_prints_exactly_one_json_line(runner):
    result = create_tenant(runner)

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    payload = json.loads(lines[0])
    assert set(payload) == {"tenant_id", "api_token", "admin_email"}
    assert isinstance(payload["tenant_id"], int)
    assert payload["admin_email"] == "boss@venue.example.com"
    tenant = db.session.get(Tenant, payload["tenant_id"])
    assert tenant.name == "Venue One"
    assert db.session.scalar(select(User.role).where(User.email == "boss@venue.example.com")) == "owner"


def test_the_printed_token_works_against_the_api(runner, client):
    payload = json.loads(create_tenant(runner).stdout)
    headers = {"Authorization": f"Bearer {payload['api_token']}"}

    created = client.post("/api/crm/customers", json={"email": "fan@x.com"}, headers=headers)

    assert created.status_code == 201
    listed = client.get("/api/crm/customers", headers=headers).get_json()["data"]
    assert [c["email"] for c in listed] == ["fan@x.com"]


def test_the_new_owner_can_log_in(runner, auth):
    create_tenant(runner)
    assert auth.login("boss@venue.example.com", "long-enough-pw").status_code == 302


def test_a_duplicate_admin_email_exits_non_zero_with_a_clear_message_and_writes_nothing(runner):
    assert create_tenant(runner).exit_code == 0
    before = counts()

    result = create_tenant(runner, email="BOSS@venue.example.com")

    assert result.exit_code != 0
    assert result.stdout == ""
    assert "already exists" in result.stderr and "email" in result.stderr
    db.session.expire_all()
    assert counts() == before


def test_a_short_password_or_bad_email_exits_non_zero_and_writes_nothing(runner):
    short = runner.invoke(args=["crm", "create-tenant", "--name", "V", "--admin-email", "a@venue.example.com",
                                "--admin-password", "short"])
    bad_email = create_tenant(runner, email="not-an-email")

    assert short.exit_code != 0 and "password" in short.stderr
    assert bad_email.exit_code != 0 and "email" in bad_email.stderr
    assert counts() == (0, 0, 0)


def test_two_tenants_get_distinct_slugs_and_tokens(runner):
    first = json.loads(create_tenant(runner, email="one@venue.example.com").stdout)
    second = json.loads(create_tenant(runner, email="two@venue.example.com").stdout)
    assert first["tenant_id"] != second["tenant_id"]
    assert first["api_token"] != second["api_token"]
    slugs = set(db.session.scalars(select(Tenant.slug)))
    assert len(slugs) == 2


def test_a_sender_email_brings_its_domain_along_so_the_new_tenant_can_send_from_it(runner, client):
    result = create_tenant(runner, "--sender-email", "News@Mail.Venue-One.example.com", "--sender-name", "Venue One",
                           "--postal-address", "1 Stage Door, Leeds")

    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    tenant = db.session.get(Tenant, payload["tenant_id"])
    assert (tenant.sender_email, tenant.sender_name, tenant.postal_address) == (
        "news@mail.venue-one.example.com", "Venue One", "1 Stage Door, Leeds")
    headers = {"Authorization": f"Bearer {payload['api_token']}"}
    [domain] = client.get("/api/crm/sending-domains", headers=headers).get_json()["data"]
    assert (domain["domain"], domain["status"]) == ("mail.venue-one.example.com", "unverified")
    created = client.post("/api/crm/campaigns", headers=headers, json={
        "name": "Hello", "subject": "Hi", "content": "<p>Hi</p>", "from_email": "tickets@mail.venue-one.example.com"})
    assert created.status_code == 201, created.get_json()


def test_a_sender_email_on_a_domain_another_tenant_verified_exits_non_zero_and_writes_nothing(runner):
    from webapp.models import SendingDomain

    assert create_tenant(runner, "--sender-email", "hi@venue-one.example.com").exit_code == 0
    db.session.execute(SendingDomain.__table__.update().values(status="verified"))  # proven by the first tenant
    db.session.commit()
    before = counts()

    result = create_tenant(runner, "--sender-email", "news@venue-one.example.com", email="other@venue.example.com")

    assert result.exit_code != 0 and result.stdout == ""
    assert "venue-one.example.com is verified by another organisation" in result.stderr
    assert counts() == before


def test_the_currency_and_locale_are_options_with_pounds_in_british_english_by_default(runner):
    default = json.loads(create_tenant(runner).stdout)
    euro = create_tenant(runner, "--currency", "eur", "--locale", "de_DE", email="euro@venue.example.com")

    assert euro.exit_code == 0, euro.output
    tenant = db.session.get(Tenant, json.loads(euro.stdout)["tenant_id"])
    assert (tenant.currency, tenant.locale) == ("EUR", "de_DE")
    assert db.session.get(Tenant, default["tenant_id"]).currency == "GBP"


def test_an_unknown_currency_or_locale_exits_non_zero_and_writes_nothing(runner):
    before = counts()

    currency = create_tenant(runner, "--currency", "XYZ")
    locale = create_tenant(runner, "--locale", "xx_YY")

    assert currency.exit_code != 0 and "ISO 4217" in currency.stderr
    assert locale.exit_code != 0 and "is not a locale" in locale.stderr
    assert counts() == before
