"""Settings: the organisation, API tokens, and the marketer's own password."""

from __future__ import annotations

import re

from webapp.extensions import db
from webapp.services import sending_domains

from .conftest import log_in, snapshot
from .pages import field_errors


def tenant_row(tenant_id: int):
    from webapp.models import Tenant

    db.session.expire_all()
    return db.session.get(Tenant, tenant_id)


# --- organisation ---------------------------------------------------------------------

def test_settings_save_and_show_the_new_values(owner_a, tenant_a):
    sending_domains.add_domain(tenant_a.id, "alpha.example.com")  # the sender must be on one of them
    response = owner_a.post("/settings/tenant", {
        "name": "Arena Alpha Live", "timezone": "Europe/Berlin", "sender_name": "Arena Alpha",
        "sender_email": "Tickets@Alpha.example.com", "postal_address": "1 Arena Way, Berlin"})

    assert response.status_code == 302
    page = owner_a.get("/settings/").get_data(as_text=True)
    assert "Settings saved." in page
    assert 'value="Europe/Berlin"' in page
    tenant = tenant_row(tenant_a.id)
    assert (tenant.name, tenant.timezone, tenant.sender_email) == \
        ("Arena Alpha Live", "Europe/Berlin", "tickets@alpha.example.com")


def test_bad_timezone_is_explained_beside_the_field_and_nothing_is_saved(owner_a, tenant_a):
    before = snapshot()

    response = owner_a.post("/settings/tenant", {"name": "Renamed", "timezone": "Mars/Olympus"})

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    errors = field_errors(html)
    assert errors["timezone"] and "IANA" in errors["timezone"][0]
    assert errors["name"] == []
    assert 'value="Mars/Olympus"' in html  # what was typed stays in the box
    assert snapshot() == before
    # The header still shows the saved name, not the one that was refused.
    assert "Renamed ·" not in html and "Arena Alpha ·" in html


def test_missing_name_and_bad_sender_email_are_shown_beside_their_fields(owner_a):
    response = owner_a.post("/settings/tenant", {"name": "", "timezone": "UTC", "sender_email": "not-an-email"})

    assert response.status_code == 422
    errors = field_errors(response.get_data(as_text=True))
    assert errors["name"] and errors["sender_email"]


def test_the_sending_rate_is_a_setting_checked_beside_its_field(owner_a, tenant_a):
    page = owner_a.get("/settings/").get_data(as_text=True)
    assert 'name="send_rate_per_second"' in page and 'value="50"' in page  # the default shown
    data = {"name": "Arena Alpha", "timezone": "UTC", "send_rate_per_second": "14"}
    assert owner_a.post("/settings/tenant", data).status_code == 302
    assert tenant_row(tenant_a.id).send_rate_per_second == 14

    for bad in ("0", "-3", "100001"):
        before = snapshot()
        response = owner_a.post("/settings/tenant", {**data, "name": "Renamed", "send_rate_per_second": bad})
        assert response.status_code == 422
        errors = field_errors(response.get_data(as_text=True))
        assert "between 1 and 100,000" in errors["send_rate_per_second"][0]
        assert snapshot() == before  # nothing of the change applied, not even the name
    response = owner_a.post("/settings/tenant", {**data, "send_rate_per_second": "fast"})
    assert response.status_code == 422 and field_errors(response.get_data(as_text=True))["send_rate_per_second"]
    # Left empty: the rate stays as it was.
    assert owner_a.post("/settings/tenant", {**data, "send_rate_per_second": ""}).status_code == 302
    assert tenant_row(tenant_a.id).send_rate_per_second == 14


def test_sender_email_refused_by_the_service_is_shown_beside_the_field(owner_a, tenant_a):
    before = snapshot()

    # Passes the form's syntax check, fails the stricter one of the service.
    response = owner_a.post("/settings/tenant", {"name": "Renamed", "timezone": "Europe/Paris",
                                                 "sender_email": "tickets@localhost"})

    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True))["sender_email"]
    assert snapshot() == before


# --- API tokens -------------------------------------------------------------------------

def created_secret(html: str) -> str:
    match = re.search(r'data-testid="new-token">([^<]+)<', html)
    assert match, "the new token is not shown"
    return match.group(1)


def test_new_token_is_shown_once_and_works_until_revoked(owner_a, tenant_a, client):
    from webapp.models import ApiToken

    response = owner_a.post("/settings/tokens", {"name": "Box office", "role": "admin"})

    assert response.status_code == 200
    secret = created_secret(response.get_data(as_text=True))
    assert secret not in owner_a.get("/settings/").get_data(as_text=True)
    assert db.session.query(ApiToken).filter_by(token_hash=secret).count() == 0  # stored hashed

    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/crm/customers", headers=headers).status_code == 200

    token_id = db.session.query(ApiToken.id).filter_by(name="Box office").scalar()
    response = owner_a.post(f"/settings/tokens/{token_id}/revoke")

    assert response.status_code == 302
    assert "Token revoked" in owner_a.get("/settings/").get_data(as_text=True)
    answer = client.get("/api/crm/customers", headers=headers)
    assert answer.status_code == 401
    assert answer.json["error"]["code"] == "unauthorized"


def test_read_only_token_cannot_write(owner_a, client):
    html = owner_a.post("/settings/tokens", {"name": "Reports", "role": "viewer"}).get_data(as_text=True)
    headers = {"Authorization": f"Bearer {created_secret(html)}"}

    assert client.get("/api/crm/customers", headers=headers).status_code == 200
    assert client.post("/api/crm/customers", json={"email": "x@example.com"}, headers=headers).status_code == 403


def test_token_needs_a_name(owner_a):
    before = snapshot()

    response = owner_a.post("/settings/tokens", {"name": "", "role": "admin"})

    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True))["name"]
    assert snapshot() == before


def test_tokens_list_shows_prefix_access_and_revoked_state(owner_a, tenant_a):
    html = owner_a.get("/settings/").get_data(as_text=True)

    assert tenant_a.token[:10] in html
    assert tenant_a.token not in html


# --- password ---------------------------------------------------------------------------

def test_password_change_ends_other_sessions_and_keeps_this_one(login, tenant_a, password):
    here = login(tenant_a.owner_email)
    elsewhere = login(tenant_a.owner_email)
    assert elsewhere.get("/dashboard").status_code == 200

    response = here.post("/settings/password", {"current_password": password,
                                                "new_password": "a-much-better-password"})

    assert response.status_code == 302
    page = here.get(response.headers["Location"])
    assert page.status_code == 200
    assert "Password changed" in page.get_data(as_text=True)
    other = elsewhere.get("/dashboard")
    assert other.status_code == 302 and other.headers["Location"].startswith("/login")


def test_new_password_works_and_the_old_one_does_not(login, new_client, tenant_a, password):
    login(tenant_a.owner_email).post("/settings/password", {"current_password": password,
                                                            "new_password": "a-much-better-password"})

    assert log_in(new_client(), tenant_a.owner_email, password).status_code == 401
    assert log_in(new_client(), tenant_a.owner_email, "a-much-better-password").status_code == 302


def test_wrong_current_password_is_explained_beside_the_field(owner_a):
    before = snapshot()

    response = owner_a.post("/settings/password", {"current_password": "guess-guess-guess",
                                                   "new_password": "a-much-better-password"})

    assert response.status_code == 422
    errors = field_errors(response.get_data(as_text=True))
    assert errors["current_password"] == ["is not your current password"]
    assert errors["new_password"] == []
    assert snapshot() == before
    assert "guess-guess-guess" not in response.get_data(as_text=True)  # passwords are never echoed


def test_short_new_password_is_explained_beside_the_field(owner_a, password):
    response = owner_a.post("/settings/password", {"current_password": password, "new_password": "short"})

    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True))["new_password"]


def test_the_timezone_is_picked_from_a_searchable_list_of_zones(owner_a):
    page = owner_a.get("/settings/").get_data(as_text=True)
    field = re.search(r'<input[^>]*name="timezone"[^>]*>', page).group(0)
    assert 'list="timezone-choices"' in field
    choices = re.search(r'<datalist id="timezone-choices">(.*?)</datalist>', page, re.S).group(1)
    zones = re.findall(r'<option value="([^"]+)"', choices)
    assert {"Europe/London", "America/New_York", "Asia/Tokyo", "UTC"} <= set(zones) and len(zones) > 300
    assert zones == sorted(zones)


# --- currency and number format ---------------------------------------------------------------

def test_currency_and_locale_are_picked_by_name_and_show_an_example_amount(owner_a):
    page = owner_a.get("/settings/").get_data(as_text=True)

    currency = re.search(r'<select[^>]*name="currency"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert re.search(r'<option selected value="GBP">GBP — British Pound</option>', currency)
    assert '<option value="EUR">EUR — Euro</option>' in currency and currency.count("<option") > 100
    locale = re.search(r'<select[^>]*name="locale"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert re.search(r'<option selected value="en_GB">English \(United Kingdom\)</option>', locale)
    assert '<option value="de_DE">German (Germany)</option>' in locale
    assert re.search(r'data-testid="money-example">£1,234.50<', page)


def test_the_example_follows_the_currency_and_locale_being_picked(owner_a):
    example = owner_a.get("/settings/money-example?currency=EUR&locale=de_DE", headers={"HX-Request": "true"})

    assert example.status_code == 200
    assert re.search(r'data-testid="money-example">1.234,50\xa0€<', example.get_data(as_text=True))
    unknown = owner_a.get("/settings/money-example?currency=ZZZ&locale=de_DE").get_data(as_text=True)
    assert "money-example" in unknown and "Pick a currency" in unknown


def test_changing_the_currency_shows_money_in_it_on_the_customer_list_profile_and_dashboard(owner_a, tenant_a):
    from .conftest import add_purchase, make_customer

    customer = make_customer(tenant_a.id, "ada@example.com", first_name="Ada")
    add_purchase(tenant_a.id, customer.id, 1234.5, order_id="ORD-1")
    assert "£1,234.50" in owner_a.get("/customers/").get_data(as_text=True)

    saved = owner_a.post("/settings/tenant", {"name": "Arena Alpha", "timezone": "UTC", "currency": "EUR",
                                              "locale": "de_DE"})

    assert saved.status_code == 302
    assert (tenant_row(tenant_a.id).currency, tenant_row(tenant_a.id).locale) == ("EUR", "de_DE")
    for path in ("/customers/", f"/customers/{customer.id}", "/dashboard"):
        html = owner_a.get(path).get_data(as_text=True)
        assert "1.234,50\xa0€" in html, path
        assert "£" not in html, path


def test_a_refused_currency_or_locale_is_explained_beside_its_field_and_nothing_is_saved(owner_a, tenant_a):
    before = snapshot()

    response = owner_a.post("/settings/tenant", {"name": "Renamed", "timezone": "UTC", "currency": "XYZ",
                                                 "locale": "xx_YY"})

    assert response.status_code == 422
    errors = field_errors(response.get_data(as_text=True))
    assert "ISO 4217" in errors["currency"][0]
    assert snapshot() == before
    response = owner_a.post("/settings/tenant", {"name": "Renamed", "timezone": "UTC", "locale": "xx_YY"})
    assert "is not a locale" in field_errors(response.get_data(as_text=True))["locale"][0]
    assert snapshot() == before


def test_leaving_the_currency_out_keeps_it(owner_a, tenant_a):
    owner_a.post("/settings/tenant", {"name": "Arena", "timezone": "UTC", "currency": "USD", "locale": "en_US"})

    owner_a.post("/settings/tenant", {"name": "Arena Alpha", "timezone": "UTC"})

    assert (tenant_row(tenant_a.id).currency, tenant_row(tenant_a.id).locale) == ("USD", "en_US")


def test_a_viewer_reads_the_currency_and_number_format_in_words(viewer_a, owner_a):
    owner_a.post("/settings/tenant", {"name": "Arena", "timezone": "UTC", "currency": "EUR", "locale": "fr_FR"})

    page = viewer_a.get("/settings/").get_data(as_text=True)

    assert "EUR — Euro" in page and "French (France)" in page and "1\u202f234,50\xa0€" in page
    assert '<select' not in page.split("<h2>Organisation</h2>")[1].split("</section>")[0]


def test_the_page_and_the_api_refuse_with_the_same_words(owner_a, tenant_a, client):
    """One service checks both surfaces."""
    page = owner_a.post("/settings/tenant", {"name": "Arena", "timezone": "UTC", "currency": "XYZ"})
    api = client.patch("/api/crm/settings", headers=tenant_a.headers, json={"currency": "XYZ"})

    [detail] = api.get_json()["error"]["details"]
    assert api.status_code == 422 and detail["field"] == "currency"
    assert field_errors(page.get_data(as_text=True))["currency"] == [detail["message"]]


def test_a_refused_currency_stays_selected_beside_its_message(owner_a):
    html = owner_a.post("/settings/tenant", {"name": "Arena", "timezone": "UTC", "currency": "XYZ"}).get_data(
        as_text=True)

    currency = re.search(r'<select[^>]*name="currency"[^>]*>(.*?)</select>', html, re.S).group(1)
    assert re.findall(r"<option selected[^>]*>([^<]*)</option>", currency) == ["XYZ"]
