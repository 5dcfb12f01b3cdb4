"""The organisation's settings over the API: every token reads them, only admin tokens
change them, each field is checked (a 422 names it and nothing is saved), and a tenant
only ever sees and changes its own."""

from __future__ import annotations

import json

import pytest
from api_assertions import assert_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp.extensions import db
from webapp.models import Tenant
from webapp.services import sending_domains
from webapp.services.tenants import create_api_token

SETTINGS = {"name", "timezone", "currency", "locale", "sender_name", "sender_email", "postal_address",
            "send_rate_per_second", "attribution_days", "webhook_allowlist", "frequency_cap", "quiet_hours"}


def stored(tenant_id: int) -> dict:
    db.session.expire_all()
    tenant = db.session.get(Tenant, tenant_id)
    return {field: getattr(tenant, field) for field in SETTINGS}


def test_get_returns_every_setting_with_the_defaults_of_a_new_tenant(api):
    response = api.get("/settings")

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == SETTINGS
    assert body["name"] == "Arena Alpha" and body["timezone"] == "UTC"
    assert (body["currency"], body["locale"]) == ("GBP", "en_GB")
    assert (body["sender_name"], body["sender_email"], body["postal_address"]) == (None, None, None)
    assert (body["send_rate_per_second"], body["attribution_days"], body["webhook_allowlist"]) == (50, 5, [])
    assert (body["frequency_cap"], body["quiet_hours"]) == (None, None)


@pytest.mark.parametrize(("field", "sent", "kept"), [
    ("name", "  Arena Alpha Live ", "Arena Alpha Live"),
    ("timezone", "Europe/Berlin", "Europe/Berlin"),
    ("currency", "EUR", "EUR"),
    ("currency", "usd", "USD"),
    ("locale", "de_DE", "de_DE"),
    ("locale", "fr-FR", "fr_FR"),
    ("sender_name", "Arena Box Office", "Arena Box Office"),
    ("sender_email", "Tickets@Alpha.example.com", "tickets@alpha.example.com"),
    ("postal_address", "1 Arena Way, Leeds", "1 Arena Way, Leeds"),
    ("send_rate_per_second", 12, 12),
    ("attribution_days", 0, 0),
    ("webhook_allowlist", ["hooks.example.com", "HOOKS.example.com", "api.example.org"],
     ["hooks.example.com", "api.example.org"]),
])
def test_patch_changes_only_the_field_sent(api, tenant_a, field, sent, kept):
    sending_domains.add_domain(tenant_a.id, "alpha.example.com")
    before = api.get("/settings").get_json()

    response = api.patch("/settings", json={field: sent})

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {**before, field: kept}
    assert api.get("/settings").get_json() == {**before, field: kept}


def test_null_clears_the_sender_and_address_but_not_a_required_setting(api, tenant_a):
    sending_domains.add_domain(tenant_a.id, "alpha.example.com")
    api.patch("/settings", json={"sender_name": "Arena", "sender_email": "hi@alpha.example.com",
                                 "postal_address": "1 Arena Way", "webhook_allowlist": ["hooks.example.com"]})

    cleared = api.patch("/settings", json={"sender_name": None, "sender_email": None, "postal_address": None,
                                           "webhook_allowlist": []})

    assert cleared.status_code == 200
    body = cleared.get_json()
    assert (body["sender_name"], body["sender_email"], body["postal_address"], body["webhook_allowlist"]) == \
        (None, None, None, [])
    for field in ("name", "timezone", "currency", "locale", "send_rate_per_second", "attribution_days"):
        assert_error(api.patch("/settings", json={field: None}), 422, field=field, case=field)


@pytest.mark.parametrize(("field", "value", "says"), [
    ("timezone", "Mars/Olympus", "IANA timezone"),
    ("currency", "XYZ", "ISO 4217"),
    ("currency", "DEM", "ISO 4217"),  # the Deutsche Mark: a code, but not a currency any more
    ("currency", "euro", "ISO 4217"),
    ("locale", "xx_YY", "locale"),
    ("locale", "en", "locale"),
    ("sender_email", "not-an-email", ""),
    ("sender_email", "hello@elsewhere.example.com", "sending domains"),
    ("send_rate_per_second", 0, ""),
    ("send_rate_per_second", 100_001, ""),
    ("attribution_days", 91, ""),
    ("attribution_days", "5", ""),
    ("name", "", ""),
    ("name", "   ", "empty"),
    ("webhook_allowlist", ["127.0.0.1"], "loopback"),
    ("webhook_allowlist", "hooks.example.com", ""),
    ("postal_address", "x" * 1001, ""),
])
def test_a_refused_value_is_a_422_naming_its_field_and_nothing_is_saved(api, tenant_a, field, value, says):
    before = stored(tenant_a.id)

    # A valid change beside it is not saved either: all or nothing.
    error = assert_error(api.patch("/settings", json={"name": "Renamed", field: value} if field != "name"
                                   else {"currency": "EUR", field: value}), 422, field=field, case=value)

    assert says in error["message"]
    assert stored(tenant_a.id) == before


def test_unknown_fields_and_other_bodies_are_refused(api, tenant_a):
    before = stored(tenant_a.id)

    assert_error(api.patch("/settings", json={"slug": "taken"}), 422, field="slug")
    assert_error(api.patch("/settings", json=["currency"]), 422)
    assert_error(api.patch("/settings", data="currency=EUR", content_type="application/x-www-form-urlencoded"), 415)
    assert_error(api.patch("/settings", data="{", content_type="application/json"), 400)
    assert stored(tenant_a.id) == before


def test_a_viewer_token_reads_the_settings_but_cannot_change_them(client, api, tenant_a):
    _, secret = create_api_token(db.session.get(Tenant, tenant_a.id), "Dashboard", "viewer")
    viewer = {"Authorization": f"Bearer {secret}"}
    before = stored(tenant_a.id)

    assert client.get("/api/crm/settings", headers=viewer).get_json() == api.get("/settings").get_json()
    refused = client.patch("/api/crm/settings", headers=viewer, json={"currency": "EUR"})

    assert_error(refused, 403, code="forbidden")
    assert stored(tenant_a.id) == before


def test_settings_need_a_token(client):
    assert_error(client.get("/api/crm/settings"), 401)
    assert_error(client.patch("/api/crm/settings", json={"currency": "EUR"}), 401)


def test_each_tenant_reads_and_changes_only_its_own_settings(api, api_b, tenant_a, tenant_b):
    a_before = stored(tenant_a.id)

    changed = api_b.patch("/settings", json={"currency": "EUR", "locale": "de_DE", "name": "Bravo Club Live"})

    assert changed.status_code == 200
    assert api_b.get("/settings").get_json()["name"] == "Bravo Club Live"
    assert api.get("/settings").get_json()["name"] == "Arena Alpha"
    assert stored(tenant_a.id) == a_before


# --- hostile input ---------------------------------------------------------------------------

HOSTILE_VALUES = st.one_of(
    st.sampled_from(["NaN", "Infinity", "1e400", str(2**63), "-1", "true", "null", "[]", "{}", '"a\\u0000b"',
                     '"\\ud800"', '"' + "x" * 20_000 + '"', "[" * 3000 + "]" * 3000, '["a\\u0000"]', '[1]']),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
    st.text(max_size=60).map(json.dumps),
    st.lists(st.text(max_size=20), max_size=3).map(json.dumps),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(sorted(SETTINGS)), raw=HOSTILE_VALUES)
def test_hostile_values_are_a_4xx_json_answer_and_a_refusal_changes_nothing(api, tenant_a, field, raw):
    before = stored(tenant_a.id)

    response = api.patch("/settings", data=f'{{"{field}": {raw}}}', content_type="application/json")

    assert response.status_code in (200, 400, 413, 422), (field, raw[:80], response.status_code)
    assert response.is_json
    if response.status_code == 200:
        assert api.get("/settings").status_code == 200
        restored = api.patch("/settings", json={**before, "webhook_allowlist": (before["webhook_allowlist"] or "")
                                                .splitlines()})
        assert restored.status_code == 200
    else:
        assert_error(response, response.status_code, case=(field, raw[:80]))
        assert stored(tenant_a.id) == before
