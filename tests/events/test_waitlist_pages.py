"""The hosted waitlist page and the offer link: a fan joins by email without an account and
without being subscribed to marketing; bots are kept out; the offer page claims once (on a
POST: mail scanners open links) and sends the fan to the platform with the offer's token;
expired and used links say so."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import ConsentRecord, Customer, CustomerActivity, EventWaitlist, OutboxMessage, Tenant, WaitlistEntry
from webapp.services import workflows
from webapp.services.events import waitlist, waitlist_page
from webapp.services.events.inventory import report_inventory
from webapp.services.tenants import hash_token
from webapp.services.workflows.engine import run_due

SHOW = {"external_id": "evt-77", "name": "Nightjar <Live>", "starts_at": "2030-03-01T20:00:00+00:00",
        "capacity": 100, "timezone": "Europe/London", "venue": {"name": "The Crypt", "city": "Leeds"},
        "url": "https://tickets.example.com/e/77"}
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0"


@pytest.fixture
def event(api):
    return api.post("/events", json=SHOW).get_json()


@pytest.fixture
def page_token(api, event) -> str:
    return api.get(f"/events/{event['id']}/waitlist").get_json()["join_url"].rsplit("/", 1)[1]


def _post(client, token: str, data: dict, *, age: float = 10, form_token: str | None = None,
          address: str = "203.0.113.9"):
    settings_row = db.session.scalar(select(EventWaitlist).where(EventWaitlist.public_token == token))
    fill = form_token if form_token is not None else waitlist_page.fill_token(settings_row, time.time() - age)
    return client.post(f"/w/{token}", data={"form_token": fill, **data},
                       environ_base={"REMOTE_ADDR": address, "HTTP_USER_AGENT": BROWSER})


def _nothing_stored() -> bool:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(WaitlistEntry)) == 0


def test_the_page_shows_the_event_on_the_venues_clock_escaped_without_scripts(client, page_token):
    response = client.get(f"/w/{page_token}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Nightjar &lt;Live&gt;" in page and "Fri 1 Mar 2030, 20:00 (GMT)" in page and "The Crypt, Leeds" in page
    assert 'name="form_token"' in page and 'name="website"' in page and 'name="quantity"' in page
    assert "<script" not in page and "Set-Cookie" not in response.headers
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert client.get("/w/not-a-token").status_code == 404


def test_joining_from_the_page_creates_an_unsubscribed_customer_and_records_no_consent(client, tenant_a, page_token,
                                                                                       event):
    response = _post(client, page_token, {"email": "Fan@Example.com", "quantity": "2"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert "You are on the waitlist" in page and "number <strong>1</strong>" in page
    assert "f***@e***.com" in page and "fan@example.com" not in page  # the address, masked
    fan = db.session.scalar(select(Customer).where(Customer.email == "fan@example.com"))
    assert fan.email_status == "unsubscribed"
    assert db.session.scalar(select(func.count()).select_from(ConsentRecord)) == 0
    types = set(db.session.scalars(select(CustomerActivity.type).where(CustomerActivity.customer_id == fan.id)))
    assert types == {"waitlist_joined"}
    entry = db.session.scalar(select(WaitlistEntry))
    assert (entry.quantity, entry.source, entry.status) == (2, "page", "waiting")


def test_a_known_subscriber_keeps_their_status_and_name_when_joining_from_the_page(client, api, page_token):
    api.post("/customers", json={"email": "ada@example.com", "first_name": "Ada"})
    _post(client, page_token, {"email": "ada@example.com", "first_name": "Mallory"})
    ada = db.session.scalar(select(Customer).where(Customer.email == "ada@example.com"))
    assert (ada.email_status, ada.first_name) == ("subscribed", "Ada")
    again = _post(client, page_token, {"email": "ada@example.com"}, address="203.0.113.10")
    assert again.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(WaitlistEntry)) == 1


def test_bots_are_kept_out_and_nothing_is_stored(client, page_token):
    honeypot = _post(client, page_token, {"email": "bot@example.com", "website": "http://spam"})
    assert honeypot.status_code == 200 and "You are on the waitlist" in honeypot.get_data(as_text=True)
    quick = _post(client, page_token, {"email": "bot@example.com"}, age=0.5)
    assert quick.status_code == 422 and "That was very quick" in quick.get_data(as_text=True)
    assert 'value="bot@example.com"' in quick.get_data(as_text=True)
    for forged in ("", "garbage", waitlist_page.fill_token(
            db.session.scalar(select(EventWaitlist)), time.time() - 10)[:-2] + "xx"):
        assert _post(client, page_token, {"email": "bot@example.com"}, form_token=forged).status_code == 422
    assert _nothing_stored()
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 0


def test_a_token_of_another_waitlist_is_refused(client, api, page_token):
    other = api.post("/events", json={**SHOW, "external_id": "evt-78"}).get_json()
    api.get(f"/events/{other['id']}/waitlist")
    other_row = db.session.scalar(select(EventWaitlist).where(EventWaitlist.event_id == other["id"]))
    forged = waitlist_page.fill_token(other_row, time.time() - 10)
    assert _post(client, page_token, {"email": "a@example.com"}, form_token=forged).status_code == 422
    assert _nothing_stored()


def test_bad_answers_are_shown_beside_their_field(client, page_token):
    response = _post(client, page_token, {"email": "not an address", "quantity": "11"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="w-email-error"' in page and 'id="w-quantity-error"' in page
    assert "Choose between 1 and 10 tickets." in page
    assert _nothing_stored()


def test_too_many_joins_from_one_address_are_slowed_down(client, page_token):
    codes = [_post(client, page_token, {"email": f"p{i}@example.com"}, address="198.51.100.4").status_code
             for i in range(31)]
    assert codes[:30] == [200] * 30 and codes[30] == 429


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(email=st.one_of(st.text(max_size=400), st.text(max_size=5).map(lambda t: t + "\x00@x.com")),
       quantity=st.one_of(st.text(max_size=30), st.integers(min_value=-10**30, max_value=10**30).map(str)))
def test_hostile_answers_never_make_a_500(client, page_token, email, quantity):
    response = _post(client, page_token, {"email": email, "quantity": quantity},
                     address=f"192.0.2.{abs(hash(email)) % 250}")
    assert response.status_code in (200, 400, 409, 422, 429)


def test_a_closed_waitlist_says_so(client, api, event, page_token):
    api.patch(f"/events/{event['id']}", json={"status": "cancelled"})
    shown = client.get(f"/w/{page_token}").get_data(as_text=True)
    assert "This event is cancelled: its waitlist is closed." in shown and "Join the waitlist</button>" not in shown
    assert _post(client, page_token, {"email": "a@example.com"}).status_code == 409
    assert _nothing_stored()


# --- the offer link ------------------------------------------------------------------------------

def _offer(api, tenant_id: int, event, email: str = "ava@example.com") -> str:
    """Put `email` on the waitlist, release a ticket, and return the offer's token (as the
    email would carry it): made here with a known token so the test holds the secret."""
    api.post(f"/events/{event['id']}/waitlist", json={"customer": {"email": email}})
    report_inventory(tenant_id, event["id"], {"available": 0})
    report_inventory(tenant_id, event["id"], {"available": 1})
    entry = db.session.scalar(select(WaitlistEntry).where(WaitlistEntry.status == "offered"))
    token = "known-token-" + email.split("@")[0]
    entry.offer_token_hash = hash_token(token)
    db.session.commit()
    return token


def test_opening_the_offer_shows_it_and_a_post_claims_it_once_and_goes_to_the_platform(client, api, tenant_a, event):
    token = _offer(api, tenant_a.id, event)
    shown = client.get(f"/w/offer/{token}")
    assert shown.status_code == 200 and "Get my tickets" in shown.get_data(as_text=True)
    assert db.session.scalar(select(WaitlistEntry.status)) == "offered"  # a GET claims nothing

    claimed = client.post(f"/w/offer/{token}")
    assert claimed.status_code == 303
    assert claimed.headers["Location"] == f"https://tickets.example.com/e/77?waitlist_offer={token}"
    used = client.post(f"/w/offer/{token}")
    assert used.status_code == 409 and "This offer was already used" in used.get_data(as_text=True)
    assert "already used" in client.get(f"/w/offer/{token}").get_data(as_text=True)


def test_an_expired_offer_says_the_tickets_passed_on(client, api, tenant_a, event):
    token = _offer(api, tenant_a.id, event)
    waitlist.expire_offers(now=utcnow() + timedelta(hours=2))
    for response in (client.get(f"/w/offer/{token}"), client.post(f"/w/offer/{token}")):
        assert response.status_code == 410
        assert "This offer has expired: the tickets passed to the next person on the waitlist" in \
            response.get_data(as_text=True)


def test_an_unknown_offer_link_is_a_404_page(client):
    for response in (client.get("/w/offer/nope"), client.post("/w/offer/nope"), client.get("/w/offer/" + "x" * 300)):
        assert response.status_code == 404 and "This link is not valid" in response.get_data(as_text=True)


def test_the_offer_pages_need_no_session_csrf_token(client, api, tenant_a, event):
    # The link's secret is the authority (no cookie to ride on); checked like any public POST.
    token = _offer(api, tenant_a.id, event)
    assert re.search(r"csrf", client.get(f"/w/offer/{token}").get_data(as_text=True)) is None


def test_the_offer_email_reaches_a_fan_who_joined_without_subscribing_but_never_a_bounced_one(client, api, tenant_a,
                                                                                            event, page_token):
    row = db.session.get(Tenant, tenant_a.id)
    row.postal_address, row.sender_email = "1 Stage Door, Leeds", "hello@alpha.example.com"
    db.session.commit()
    flow = workflows.create_workflow(tenant_a.id, {
        "name": "Offer", "trigger_type": "waitlist_offer", "reentry": "always",
        "steps": [{"type": "send_email", "config": {"subject": "Your tickets", "content":
                                                    '<p><a href="{{ trigger.offer_url }}">Buy</a></p>'}}]})
    workflows.set_active(tenant_a.id, flow.id, True)
    api.post("/customers", json={"email": "gone@example.com", "email_status": "bounced"})
    api.post(f"/events/{event['id']}/waitlist", json={"customer": {"email": "gone@example.com"}})
    _post(client, page_token, {"email": "fan@example.com"})
    report_inventory(tenant_a.id, event["id"], {"available": 0})
    report_inventory(tenant_a.id, event["id"], {"available": 2})
    run_due(now=utcnow())
    db.session.expire_all()
    assert [m.recipient for m in db.session.scalars(select(OutboxMessage))] == ["fan@example.com"]
    fan = db.session.scalar(select(Customer).where(Customer.email == "fan@example.com"))
    assert fan.email_status == "unsubscribed"  # the offer is no subscription
