"""The hosted page: what it shows and who may frame it; bots refused without storing
(honeypot, fill time, forged tokens, rate limits); answers checked with the message beside
the field and nothing stored; hostile input never a 500."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.signup_forms.support import count, make_form, nothing_stored, post_form, topic_ids
from tests.web.pages import field_errors
from webapp.extensions import db
from webapp.models import PendingSignup, SignupForm
from webapp.services import signup_forms

ADA = {"email": "ada@example.com", "first_name": "Ada"}


def test_the_page_shows_the_organisation_fields_topics_and_wording_and_any_site_may_frame_it(client, tenant_a):
    form = make_form(tenant_a.id, consent_text="Yes, send me <b>news</b>.")
    jazz, surveys = topic_ids(form)

    response = client.get(f"/f/{form.public_id}")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Arena Alpha" in page and "<h1>Newsletter</h1>" in page
    for name in ("email", "first_name", "last_name", "field_favourite_genre", "form_token", "website"):
        assert f'name="{name}"' in page
    assert f'value="{jazz}" checked' in page and f'value="{surveys}">' in page
    assert "Yes, send me &lt;b&gt;news&lt;/b&gt;." in page  # the wording, escaped, beside the button
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in response.headers
    assert "<script" not in page
    assert "Set-Cookie" not in response.headers  # nothing relies on a cookie


def test_an_unknown_or_archived_form_is_a_404_page(client, tenant_a):
    form = make_form(tenant_a.id)
    signup_forms.update_form(tenant_a.id, form.id, {"status": "archived"})

    for response in (client.get("/f/nope"), client.get(f"/f/{form.public_id}"),
                     post_form(client, form, ADA)):
        assert response.status_code == 404
        assert "This form is not available" in response.get_data(as_text=True)
    assert nothing_stored()


def test_a_filled_in_honeypot_looks_like_success_but_stores_nothing(client, tenant_a):
    form = make_form(tenant_a.id)

    response = post_form(client, form, {**ADA, "website": "http://spam.example"})

    assert response.status_code == 200 and "Check your inbox" in response.get_data(as_text=True)
    assert nothing_stored()


def test_a_form_sent_back_too_quickly_is_refused_with_the_answers_kept(client, tenant_a):
    form = make_form(tenant_a.id)

    response = post_form(client, form, ADA, age=0.5)

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "That was very quick" in page and 'value="ada@example.com"' in page
    assert nothing_stored()


def test_a_missing_forged_stale_or_other_forms_token_is_refused(client, tenant_a):
    form = make_form(tenant_a.id)
    other = make_form(tenant_a.id, name="Other", topics=[])
    genuine = signup_forms.fill_token(form, time.time() - 10)
    for token in ("", "garbage", genuine[:-2] + "xx", signup_forms.fill_token(other, time.time() - 10),
                  signup_forms.fill_token(form, time.time() - 3 * 86400)):
        response = post_form(client, form, ADA, token=token)
        assert response.status_code == 422, token
        # A fresh token comes with the page, so a person only presses the button again.
        assert 'name="form_token" value="' in response.get_data(as_text=True)
    assert nothing_stored()


def test_wrong_answers_are_shown_beside_their_fields_and_nothing_is_stored(client, tenant_a):
    form = make_form(tenant_a.id, fields={"first_name": "required", "custom": [
        {"key": "seats", "label": "Seats", "kind": "number"},
        {"key": "birthday", "label": "Birthday", "kind": "date"},
        {"key": "genre", "label": "Genre", "kind": "select", "options": ["Jazz"]},
        {"key": "adult", "label": "I am over 16", "kind": "checkbox", "required": True}]})

    response = post_form(client, form, {"email": "not-an-address", "first_name": "  ", "field_seats": "NaN",
                                        "field_birthday": "2026-02-30", "field_genre": "Polka"})

    assert response.status_code == 422
    errors = field_errors(response.get_data(as_text=True))
    assert errors["email"] == ["Enter a valid email address, like name@example.com."]
    assert errors["first_name"] == ["Enter your first name."]
    assert errors["field_seats"] == ["Enter a number, like 3 or 2.5."]
    assert errors["field_birthday"] == ["Enter a real date, like 2026-12-31."]
    assert errors["field_genre"] == ["Choose one of the options."]
    assert errors["field_adult"] == ["Tick this box to go on."]
    assert nothing_stored()


def test_calendar_edges_and_number_bounds(client, tenant_a):
    form = make_form(tenant_a.id, topics=[], fields={"first_name": "off", "custom": [
        {"key": "day", "label": "Day", "kind": "date"}, {"key": "n", "label": "N", "kind": "number"}]})
    cases = [({"field_day": "2028-02-29", "field_n": "1,000"}, 200), ({"field_day": "2027-02-29"}, 422),
             ({"field_day": "1899-12-31"}, 422), ({"field_n": "1e400"}, 422), ({"field_n": "-inf"}, 422),
             ({"field_n": "9" * 20}, 422)]
    for i, (data, status) in enumerate(cases):
        response = post_form(client, form, {"email": f"p{i}@example.com", **data}, address=f"203.0.113.{i + 1}")
        assert response.status_code == status, data


def test_the_per_address_limit_refuses_with_429_and_stores_nothing_more(client, tenant_a):
    form = make_form(tenant_a.id, topics=[])
    # Different networks each time: only the typed address is the same.
    responses = [post_form(client, form, {**ADA, "email": "ada@example.com", "first_name": "x"},
                           address=f"198.51.100.{i}") for i in range(6)]

    assert [r.status_code for r in responses] == [200] * 5 + [429]
    assert count(PendingSignup) == 1  # the other four were within the email interval
    refused = responses[-1]
    assert "Please wait a little" in refused.get_data(as_text=True)  # the form's own look, not the app's
    assert refused.headers["Retry-After"] and "frame-ancestors *" in refused.headers["Content-Security-Policy"]


def test_people_who_forget_their_address_do_not_share_one_budget(client, tenant_a):
    form = make_form(tenant_a.id, topics=[])
    statuses = [post_form(client, form, {"email": ""}, address=f"198.51.100.{i}").status_code for i in range(8)]

    assert statuses == [422] * 8


def test_the_per_network_address_limit_refuses_with_429_and_stores_nothing(client, tenant_a):
    form = make_form(tenant_a.id, topics=[])
    statuses = [post_form(client, form, {"email": f"fan{i}@example.com", "first_name": "Fan"}).status_code
                for i in range(31)]

    assert statuses[:30] == [200] * 30 and statuses[30] == 429
    assert count(PendingSignup) == 30


hostile_text = st.one_of(st.text(max_size=50), st.just("\x00"), st.just("a\x00b@example.com"),
                         st.just("x" * 100_000), st.just("NaN"), st.just("💥" * 300), st.just("\ud800".encode(
                             "utf-8", "surrogatepass").decode("utf-8", "replace")))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(st.sampled_from(["email", "first_name", "last_name", "field_favourite_genre", "topic",
                                             "website", "unknown", "field_", "__proto__"]), hostile_text, max_size=6),
       n=st.integers(min_value=0, max_value=10**6))
def test_hostile_submissions_are_a_page_never_a_500_and_store_nothing_bad(client, tenant_a, data, n):
    form = signup_forms.active_form(_form_public_id(tenant_a.id))

    response = post_form(client, form, data, address=f"10.{n % 250}.{n // 250 % 250}.1")

    assert response.status_code in (200, 400, 413, 422, 429), response.status_code
    for row in _pending_rows():
        assert "\x00" not in row.email and len(row.email) <= 320


def _form_public_id(tenant_id: int) -> str:
    public_id = db.session.scalar(select(SignupForm.public_id).where(SignupForm.tenant_id == tenant_id))
    return public_id or make_form(tenant_id).public_id


def _pending_rows():
    return list(db.session.scalars(select(PendingSignup)))
