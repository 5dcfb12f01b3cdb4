"""The customer list, the customer page, tags, notes, the timeline, edit and erase."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Customer, CustomerActivity, CustomerTag

from .conftest import HX, add_purchase, make_customer, snapshot
from .pages import field_errors


def rows(html: str) -> list[str]:
    """The customer emails in the list's rows, in order."""
    return re.findall(r'<tr class="customer-row">.*?<td>([^<]+@[^<]+)</td>', html, re.S)


def timeline_types(html: str) -> list[str]:
    return re.findall(r'<li class="timeline-item type-([a-z_]+)"', html)


@pytest.fixture
def crowd(tenant_a):
    """Three customers with tags, created oldest first."""
    make_customer(tenant_a.id, "ada@example.com", first_name="Ada", last_name="Lovelace", tags=["vip"])
    make_customer(tenant_a.id, "grace@example.com", first_name="Grace", last_name="Hopper",
                  tags=["newsletter", "vip"])
    make_customer(tenant_a.id, "alan@example.com", first_name="Alan", last_name="Turing", tags=["student"])


# --- list -------------------------------------------------------------------------------

def test_list_shows_newest_customers_first_with_their_tags(owner_a, crowd):
    html = owner_a.get("/customers/").get_data(as_text=True)

    assert rows(html) == ["alan@example.com", "grace@example.com", "ada@example.com"]
    assert re.search(r'<a class="tag"[^>]*>newsletter</a>', html)
    assert "<html" in html


@pytest.mark.parametrize("query, expected", [
    ("ada", ["ada@example.com"]),
    ("HOPPER", ["grace@example.com"]),
    ("grace hop", ["grace@example.com"]),
    ("example.com", ["alan@example.com", "grace@example.com", "ada@example.com"]),
    ("a%", []),
])
def test_search_by_email_or_name(owner_a, crowd, query, expected):
    html = owner_a.get("/customers/", query_string={"q": query}).get_data(as_text=True)

    assert rows(html) == expected


def test_tag_filter_and_search_combine(owner_a, crowd):
    assert rows(owner_a.get("/customers/?tag=vip").get_data(as_text=True)) == \
        ["grace@example.com", "ada@example.com"]
    assert rows(owner_a.get("/customers/?tag=VIP&q=ada").get_data(as_text=True)) == ["ada@example.com"]


def test_tags_in_the_list_link_to_the_tag_filter(owner_a, crowd):
    html = owner_a.get("/customers/").get_data(as_text=True)

    assert 'href="/customers/?tag=student"' in html


def test_htmx_request_gets_only_the_rows(owner_a, crowd):
    response = owner_a.get("/customers/?q=grace", headers=HX)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html and "<tbody" not in html
    assert rows(html) == ["grace@example.com"]
    assert "HX-Request" in response.headers["Vary"]
    assert "HX-Request" in owner_a.get("/customers/").headers["Vary"]  # the page varies too


def test_list_pages_with_a_cursor(owner_a, tenant_a):
    for n in range(30):
        make_customer(tenant_a.id, f"fan{n:02d}@example.com")

    first = owner_a.get("/customers/").get_data(as_text=True)
    assert len(rows(first)) == 25
    more = re.search(r'hx-get="([^"]*cursor=[^"]+)"', first)
    assert more, "no load-more button"

    second = owner_a.get(more.group(1).replace("&amp;", "&"), headers=HX).get_data(as_text=True)

    assert rows(second) == [f"fan{n:02d}@example.com" for n in range(4, -1, -1)]
    assert "cursor=" not in second  # the last page has no more button
    assert "No customers" not in second


def test_load_more_keeps_the_search(owner_a, tenant_a):
    for n in range(27):
        make_customer(tenant_a.id, f"fan{n:02d}@example.com", tags=["vip"] if n % 2 else [])
    for n in range(27):
        make_customer(tenant_a.id, f"other{n:02d}@example.com", tags=["vip"])

    first = owner_a.get("/customers/?q=fan").get_data(as_text=True)
    more = re.search(r'hx-get="([^"]*cursor=[^"]+)"', first).group(1).replace("&amp;", "&")
    second = owner_a.get(more, headers=HX).get_data(as_text=True)

    assert "q=fan" in more
    assert rows(second) == ["fan01@example.com", "fan00@example.com"]


def test_tampered_cursor_shows_the_first_page(owner_a, crowd):
    response = owner_a.get("/customers/?cursor=not-a-cursor")

    assert response.status_code == 200
    assert len(rows(response.get_data(as_text=True))) == 3


def test_empty_list_says_how_to_add_customers(owner_a):
    html = owner_a.get("/customers/").get_data(as_text=True)

    assert "No customers yet" in html
    assert "/api/crm/customers" in html
    assert 'href="/settings/"' in html  # where the API token comes from


def test_search_without_matches_says_so_and_how_to_widen_it(owner_a, crowd):
    html = owner_a.get("/customers/?q=zzz&tag=vip", headers=HX).get_data(as_text=True)

    assert rows(html) == []
    assert "No customers match" in html and "zzz" in html and "vip" in html
    assert 'href="/customers/"' in html  # clear the filters


# --- customer page ----------------------------------------------------------------------

@pytest.fixture
def ada(tenant_a):
    customer = make_customer(tenant_a.id, "ada@example.com", first_name="Ada", last_name="Lovelace",
                             external_id="tm-1", tags=["vip"], attributes={"favourite_genre": "jazz"})
    add_purchase(tenant_a.id, customer.id, 120.50, order_id="ORD-1", event_name="Jazz Night")
    add_purchase(tenant_a.id, customer.id, 30, order_id="ORD-2", days_ago=3)
    return customer.id


def test_customer_page_shows_profile_aggregates_tags_and_timeline(owner_a, ada):
    html = owner_a.get(f"/customers/{ada}").get_data(as_text=True)

    assert "Ada Lovelace" in html and "ada@example.com" in html and "tm-1" in html
    assert "favourite_genre" in html and "jazz" in html
    assert re.search(r'data-testid="total-spent">\s*£150\.50', html)
    assert re.search(r'data-testid="orders-count">\s*2<', html)
    assert '<span class="tag">vip' in html
    assert timeline_types(html) == ["purchase", "purchase"]
    assert "Jazz Night" in html and "ORD-1" in html


def test_missing_customer_is_a_404_page(owner_a):
    response = owner_a.get("/customers/999999")

    assert response.status_code == 404
    assert "Back to the dashboard" in response.get_data(as_text=True)


def test_note_is_added_to_the_timeline(owner_a, ada):
    response = owner_a.post(f"/customers/{ada}/notes", {"text": "VIP upgrade offered"})

    assert response.status_code == 302
    html = owner_a.get(f"/customers/{ada}").get_data(as_text=True)
    assert "Note added." in html
    assert timeline_types(html)[0] == "note"
    assert "VIP upgrade offered" in html and owner_a.email in html


def test_htmx_note_returns_a_fresh_form_and_the_timeline_out_of_band(owner_a, ada):
    response = owner_a.hx_post(f"/customers/{ada}/notes", {"text": "Called about refunds"})

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html
    assert re.search(r'<form id="note-form"', html)
    assert "Called about refunds</textarea>" not in html  # the form is emptied
    assert re.search(r'<div id="timeline"[^>]*hx-swap-oob="true"', html)
    assert timeline_types(html)[0] == "note"


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_note_is_explained_beside_the_field(owner_a, ada, text):
    before = snapshot()

    page = owner_a.post(f"/customers/{ada}/notes", {"text": text})
    partial = owner_a.hx_post(f"/customers/{ada}/notes", {"text": text})

    for response in (page, partial):
        assert response.status_code == 422
        assert field_errors(response.get_data(as_text=True))["text"] == ["Write something first."]
    assert "<html" in page.get_data(as_text=True)
    assert "<html" not in partial.get_data(as_text=True)
    assert snapshot() == before


def test_too_long_note_is_explained_beside_the_field(owner_a, ada):
    response = owner_a.hx_post(f"/customers/{ada}/notes", {"text": "x" * 5001})

    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True))["text"]


def test_htmx_tag_add_returns_tags_and_the_timeline_out_of_band(owner_a, ada):
    response = owner_a.hx_post(f"/customers/{ada}/tags", {"tag": "  Early  Bird "})

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="tags"')
    assert '<span class="tag">early bird' in html
    assert re.search(r'<div id="timeline"[^>]*hx-swap-oob="true"', html)
    assert timeline_types(html)[0] == "tag_added"
    assert db.session.scalar(select(func.count()).select_from(CustomerTag)) == 2


def test_adding_a_tag_twice_logs_it_once(owner_a, ada):
    owner_a.hx_post(f"/customers/{ada}/tags", {"tag": "vip"})

    count = db.session.scalar(select(func.count()).select_from(CustomerActivity)
                              .where(CustomerActivity.type == "tag_added"))
    assert count == 0  # ada already had it


def test_htmx_tag_remove_returns_tags_and_the_timeline_out_of_band(owner_a, ada):
    response = owner_a.hx_post(f"/customers/{ada}/tags/remove", {"tag": "vip"})

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "No tags yet" in html
    assert timeline_types(html)[0] == "tag_removed"
    assert db.session.scalar(select(func.count()).select_from(CustomerTag)) == 0


def test_bad_tag_is_explained_beside_the_field(owner_a, ada):
    before = snapshot()

    response = owner_a.hx_post(f"/customers/{ada}/tags", {"tag": "!!!"})

    assert response.status_code == 422
    errors = field_errors(response.get_data(as_text=True))
    assert errors["tag"] and "letters, digits" in errors["tag"][0]
    assert snapshot() == before


def test_tag_forms_work_without_javascript(owner_a, ada):
    assert owner_a.post(f"/customers/{ada}/tags", {"tag": "press"}).status_code == 302
    assert owner_a.post(f"/customers/{ada}/tags/remove", {"tag": "vip"}).status_code == 302

    db.session.expire_all()
    assert db.session.get(Customer, ada).tags == ["press"]


# --- timeline ---------------------------------------------------------------------------

def test_timeline_filters_by_type(owner_a, ada):
    owner_a.post(f"/customers/{ada}/notes", {"text": "A note"})

    notes = owner_a.get(f"/customers/{ada}/timeline?type=note", headers=HX).get_data(as_text=True)
    purchases = owner_a.get(f"/customers/{ada}/timeline?type=purchase", headers=HX).get_data(as_text=True)
    signups = owner_a.get(f"/customers/{ada}/timeline?type=signup", headers=HX).get_data(as_text=True)

    assert timeline_types(notes) == ["note"]
    assert timeline_types(purchases) == ["purchase", "purchase"]
    assert '<option value="purchase" selected' in purchases
    assert timeline_types(signups) == [] and "No activity of this type" in signups


def test_timeline_loads_more(owner_a, tenant_a):
    from webapp.services.activities import add_note

    customer = make_customer(tenant_a.id, "busy@example.com")
    for n in range(23):
        add_note(tenant_a.id, customer.id, f"note number {n}")

    first = owner_a.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert len(timeline_types(first)) == 20
    more = re.search(r'hx-get="([^"]*/timeline\?[^"]*cursor=[^"]+)"', first)
    assert more, "no load-more button"

    rest = owner_a.get(more.group(1).replace("&amp;", "&"), headers=HX).get_data(as_text=True)

    assert len(timeline_types(rest)) == 3
    assert "note number 0" in rest and "note number 3" not in rest
    assert "cursor=" not in rest and "timeline-filter" not in rest  # only the items


def test_customer_without_activity_sees_what_will_appear(owner_a, tenant_a):
    customer = make_customer(tenant_a.id, "quiet@example.com")

    html = owner_a.get(f"/customers/{customer.id}").get_data(as_text=True)

    assert "No activity yet" in html
    assert "No tags yet" in html


# --- edit and erase ---------------------------------------------------------------------

def test_edit_form_is_filled_and_saves(owner_a, ada):
    form = owner_a.get(f"/customers/{ada}/edit").get_data(as_text=True)
    assert 'value="ada@example.com"' in form and 'value="Lovelace"' in form

    response = owner_a.post(f"/customers/{ada}/edit", {
        "email": "Ada.L@Example.com", "first_name": "Augusta Ada", "last_name": "King",
        "external_id": "tm-1", "timezone": "Europe/London", "email_status": "unsubscribed"})

    assert response.status_code == 302
    db.session.expire_all()
    customer = db.session.get(Customer, ada)
    assert (customer.email, customer.full_name, customer.timezone, customer.email_status) == \
        ("ada.l@example.com", "Augusta Ada King", "Europe/London", "unsubscribed")
    assert customer.tags == ["vip"] and customer.orders_count == 2  # untouched


def test_edit_errors_are_shown_beside_their_fields(owner_a, ada):
    before = snapshot()

    response = owner_a.post(f"/customers/{ada}/edit", {
        "email": "not an email", "timezone": "Moon/Base", "email_status": "subscribed"})

    assert response.status_code == 422
    errors = field_errors(response.get_data(as_text=True))
    assert errors["email"] and errors["first_name"] == []
    assert snapshot() == before

    response = owner_a.post(f"/customers/{ada}/edit", {
        "email": "ada@example.com", "timezone": "Moon/Base", "email_status": "subscribed"})

    assert response.status_code == 422
    assert "IANA" in field_errors(response.get_data(as_text=True))["timezone"][0]
    assert snapshot() == before


def test_edit_to_another_customers_email_is_a_conflict_beside_the_field(owner_a, ada, tenant_a):
    make_customer(tenant_a.id, "grace@example.com", first_name="Grace")
    before = snapshot()

    response = owner_a.post(f"/customers/{ada}/edit", {
        "email": "GRACE@example.com", "first_name": "Ada", "email_status": "subscribed"})

    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert field_errors(html)["email"] == ["Another customer already has this value."]
    assert 'value="GRACE@example.com"' in html  # what was typed stays
    assert snapshot() == before


def test_edit_to_another_customers_external_id_is_shown_beside_that_field(owner_a, ada, tenant_a):
    make_customer(tenant_a.id, "grace@example.com", external_id="tm-2")

    response = owner_a.post(f"/customers/{ada}/edit", {
        "email": "ada@example.com", "external_id": "tm-2", "email_status": "subscribed"})

    assert response.status_code == 409
    assert field_errors(response.get_data(as_text=True))["external_id"]


def test_erase_removes_the_customer_and_everything_about_them(owner_a, ada, tenant_a):
    other = make_customer(tenant_a.id, "grace@example.com", tags=["vip"])

    response = owner_a.post(f"/customers/{ada}/delete")

    assert response.status_code == 302
    assert response.headers["Location"] == "/customers/"
    assert "erased" in owner_a.get("/customers/").get_data(as_text=True)
    assert owner_a.get(f"/customers/{ada}").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(CustomerActivity)
                             .where(CustomerActivity.customer_id == ada)) == 0
    assert db.session.scalar(select(func.count()).select_from(CustomerTag)
                             .where(CustomerTag.customer_id == ada)) == 0
    assert db.session.get(Customer, other.id) is not None


def test_the_timeline_filter_offers_every_type_the_tenant_has_and_no_other_tenants(owner_a, ada, tenant_b):
    from webapp.services.activities import record_activity

    record_activity(tenant_a_id := db.session.get(Customer, ada).tenant_id, "ticket_scan", customer_id=ada,
                    properties={"gate": "North"})
    record_activity(tenant_a_id, "page_view", customer_id=ada, properties={"url": "https://venue.example/jazz"})
    other = make_customer(tenant_b.id, "bo@example.com")
    record_activity(tenant_b.id, "loyalty_points_earned", customer_id=other.id, properties={"points": 5})
    db.session.commit()

    page = owner_a.get(f"/customers/{ada}").get_data(as_text=True)
    options = re.findall(r'<option value="([a-z_]*)"', page.split('name="type"', 1)[1].split("</select>", 1)[0])
    assert {"purchase", "ticket_scan", "page_view"} <= set(options)
    assert "loyalty_points_earned" not in options  # another tenant's custom type
    filtered = owner_a.get(f"/customers/{ada}/timeline?type=ticket_scan").get_data(as_text=True)
    assert "North" in filtered and "ORD-1" not in filtered


def test_the_total_is_the_count_the_database_keeps(owner_a, api):
    """The total beside the heading comes from customer_counts (kept by triggers), not from
    counting the table; a search does not change it."""
    for n in range(3):
        assert api.post("/customers", json={"email": f"p{n}@example.com"}).status_code == 201
    assert api.delete(f"/customers/{api.get('/customers?q=p2').get_json()['data'][0]['id']}").status_code == 204
    page = owner_a.get("/customers/?q=p1").get_data(as_text=True)
    assert re.search(r"2\s+in total", page)
