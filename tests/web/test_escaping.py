"""Markup sent by the platform or typed by a marketer is stored as text and escaped on
every page that shows it."""

from __future__ import annotations

import pytest

from .conftest import HX, make_customer

NAME = "<script>alert(1)</script>"
NOTE = "<img src=x onerror=alert(2)> call back"
ATTRIBUTE = '"><svg onload=alert(3)>'
PROPERTY = "<b onmouseover=alert(4)>Gate B</b>"
RAW = [NAME, "<img src=x onerror=alert(2)>", "<svg onload=alert(3)>", "<b onmouseover=alert(4)>"]


def escaped(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


@pytest.fixture
def hostile_customer(tenant_a):
    from webapp.services.activities import add_note, record_activity

    customer = make_customer(tenant_a.id, "mallory@example.com", first_name=NAME,
                             attributes={"seat": ATTRIBUTE})
    add_note(tenant_a.id, customer.id, NOTE, author=tenant_a.owner_email)
    record_activity(tenant_a.id, "ticket_scan", customer_id=customer.id, properties={"gate": PROPERTY})
    return customer.id


def assert_escaped(html: str, *shown: str) -> None:
    for raw in RAW:
        assert raw not in html, f"unescaped {raw!r} on the page"
    for text in shown:
        assert escaped(text) in html, f"{text!r} is not shown (escaped)"


def test_customer_list_escapes_names(owner_a, hostile_customer):
    assert_escaped(owner_a.get("/customers/").get_data(as_text=True), NAME)
    assert_escaped(owner_a.get("/customers/?q=mallory", headers=HX).get_data(as_text=True), NAME)


def test_customer_page_escapes_profile_notes_and_activities(owner_a, hostile_customer):
    html = owner_a.get(f"/customers/{hostile_customer}").get_data(as_text=True)

    assert_escaped(html, NAME, NOTE, ATTRIBUTE, PROPERTY)
    assert f"<title>{escaped(NAME)} · " in html


def test_timeline_partial_escapes_notes_and_properties(owner_a, hostile_customer):
    html = owner_a.get(f"/customers/{hostile_customer}/timeline", headers=HX).get_data(as_text=True)

    assert_escaped(html, NOTE, PROPERTY)


def test_dashboard_recent_activity_escapes_names_and_notes(owner_a, hostile_customer):
    html = owner_a.get("/dashboard").get_data(as_text=True)

    assert_escaped(html, NAME, NOTE)


def test_note_added_through_the_page_is_escaped_in_the_htmx_answer(owner_a, hostile_customer):
    response = owner_a.hx_post(f"/customers/{hostile_customer}/notes", {"text": "<script>alert(9)</script>"})

    html = response.get_data(as_text=True)
    assert "<script>alert(9)</script>" not in html
    assert escaped("<script>alert(9)</script>") in html


def test_tag_with_markup_is_refused_and_not_reflected(owner_a, hostile_customer):
    from webapp.extensions import db
    from webapp.models import CustomerTag

    response = owner_a.hx_post(f"/customers/{hostile_customer}/tags", {"tag": "<b>vip</b>"})

    assert response.status_code == 422
    assert "<b>vip</b>" not in response.get_data(as_text=True)
    assert db.session.query(CustomerTag).count() == 0


def test_search_terms_are_escaped_where_they_are_echoed(owner_a, hostile_customer):
    html = owner_a.get("/customers/", query_string={"q": NAME, "tag": "<i>x</i>"}).get_data(as_text=True)

    assert NAME not in html and "<i>x</i>" not in html
    assert escaped(NAME) in html  # in the search box and the empty-state message


def test_names_with_markup_can_be_found(owner_a, hostile_customer):
    html = owner_a.get("/customers/", query_string={"q": "<script>"}, headers=HX).get_data(as_text=True)

    assert "mallory@example.com" in html
