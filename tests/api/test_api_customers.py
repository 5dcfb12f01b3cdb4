"""Customers over the JSON API: upsert, list, search, pagination, edit and erasure."""

from __future__ import annotations

import pytest
from api_assertions import assert_error, walk_pages
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Customer, CustomerActivity, CustomerTag


def create(api, **fields) -> dict:
    response = api.post("/customers", json=fields)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


# --- upsert -----------------------------------------------------------------------------

def test_upsert_by_email_is_case_insensitive(api):
    first = api.post("/customers", json={"email": "Ann@X.com", "first_name": "Ann"})
    second = api.post("/customers", json={"email": "ann@x.com", "last_name": "Lee"})

    assert first.status_code == 201
    assert second.status_code == 200
    assert first.json["id"] == second.json["id"]
    assert second.json["email"] == "ann@x.com"
    assert (second.json["first_name"], second.json["last_name"]) == ("Ann", "Lee")
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 1


def test_upsert_by_external_id_updates_the_same_customer_even_with_a_new_email(api):
    first = api.post("/customers", json={"external_id": "tp-1", "email": "old@x.com"})
    second = api.post("/customers", json={"external_id": "tp-1", "email": "new@x.com", "first_name": "Bo"})

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json["id"] == first.json["id"]
    assert second.json["email"] == "new@x.com"
    assert second.json["first_name"] == "Bo"
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 1


def test_upsert_by_external_id_alone_updates_a_known_customer(api):
    created = create(api, external_id="tp-9", email="nine@x.com")
    response = api.post("/customers", json={"external_id": "tp-9", "timezone": "Europe/Berlin"})

    assert response.status_code == 200
    assert response.json["id"] == created["id"]
    assert response.json["timezone"] == "Europe/Berlin"


def test_upsert_with_an_unknown_external_id_and_no_email_is_a_422_naming_email(api):
    assert_error(api.post("/customers", json={"external_id": "nobody"}), 422, field="email")


def test_upsert_without_email_or_external_id_is_a_422_naming_email(api):
    assert_error(api.post("/customers", json={"first_name": "Ann"}), 422, field="email")


def test_upsert_with_an_invalid_email_is_a_422_naming_email(api):
    assert_error(api.post("/customers", json={"email": "not-an-address"}), 422, field="email")


def test_upsert_adds_tags_and_merges_attributes(api):
    create(api, email="ann@x.com", tags=["vip"], attributes={"city": "Berlin", "seats": 2})
    updated = create(api, email="ann@x.com", tags=["Student", "vip"], attributes={"seats": 4, "row": "B"})

    assert updated["tags"] == ["student", "vip"]
    assert updated["attributes"] == {"city": "Berlin", "seats": 4, "row": "B"}


def test_upsert_answers_with_the_whole_customer(api):
    body = api.post("/customers", json={"email": "ann@x.com"}).json

    assert set(body) == {"id", "email", "first_name", "last_name", "external_id", "timezone", "tags",
                         "attributes", "email_status", "total_spent", "orders_count", "last_order_at",
                         "created_at", "updated_at", "topics"}
    assert body["email_status"] == "subscribed"
    assert body["total_spent"] == 0 and body["orders_count"] == 0 and body["last_order_at"] is None


def test_upsert_rejects_an_email_whose_customer_has_another_external_id(api):
    create(api, email="ann@x.com", external_id="tp-1")
    assert_error(api.post("/customers", json={"email": "ann@x.com", "external_id": "tp-2"}), 409,
                 field="external_id")


def test_upsert_with_signup_logs_a_signup_activity_once(api):
    customer = create(api, email="ann@x.com", signup=True)
    create(api, email="ann@x.com", signup=True)

    timeline = api.get(f"/customers/{customer['id']}/timeline").json["data"]
    assert [a["type"] for a in timeline] == ["signup"]


# --- list, search, pagination ----------------------------------------------------------

def test_list_searches_email_and_name(api):
    ann = create(api, email="ann@alpha.com", first_name="Ann", last_name="Smith")
    bob = create(api, email="bob@bravo.com", first_name="Bob", last_name="Annerl")
    create(api, email="cy@charlie.com", first_name="Cy")

    def ids(q):
        return {c["id"] for c in api.get("/customers", query_string={"q": q}).json["data"]}

    assert ids("ann") == {ann["id"], bob["id"]}
    assert ids("BRAVO.com") == {bob["id"]}
    assert ids("ann smith") == {ann["id"]}
    assert ids("nobody") == set()


@pytest.mark.parametrize(("first_name", "last_name", "query"), [
    ("Élodie", "Ørsted", "élodie ør"), ("ŞULE", "Çelik", "şule çel"), ("Ζωή", "Παππά", "ζωή"),
    ("Дмитрий", "Орлов", "дмитрий о"), ("zoë", "BRONTË", "Zoë Brontë")])
def test_list_search_folds_the_case_of_every_alphabet(api, first_name, last_name, query):
    """Names come from the public in every alphabet; SQLite's own lower() folded ASCII only."""
    found = create(api, email="fan@x.com", first_name=first_name, last_name=last_name)
    create(api, email="other@x.com", first_name="Other")

    assert [c["id"] for c in api.get("/customers", query_string={"q": query}).json["data"]] == [found["id"]]
    assert [c["id"] for c in api.get("/customers", query_string={"q": query.upper()}).json["data"]] == [found["id"]]


def test_list_search_treats_like_wildcards_as_text(api):
    create(api, email="axb@x.com", first_name="1000 Club")  # what unescaped _ and % would match
    percent = create(api, email="a_b@x.com", first_name="100%")

    assert [c["id"] for c in api.get("/customers", query_string={"q": "100%"}).json["data"]] == [percent["id"]]
    assert [c["id"] for c in api.get("/customers", query_string={"q": "a_b"}).json["data"]] == [percent["id"]]


def test_list_filters_by_tag(api):
    vip = create(api, email="vip@x.com", tags=["vip"])
    create(api, email="plain@x.com", tags=["newsletter"])

    data = api.get("/customers", query_string={"tag": "VIP"}).json["data"]
    assert [c["id"] for c in data] == [vip["id"]]


def test_list_pages_walk_every_customer_exactly_once_newest_first(api):
    ids = [create(api, email=f"c{i}@x.com")["id"] for i in range(7)]

    pages = walk_pages(api, "/customers", limit=3)

    seen = [c["id"] for page in pages for c in page]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert seen == sorted(ids, reverse=True)


def test_list_pages_combine_with_filters(api):
    tagged = [create(api, email=f"t{i}@x.com", tags=["vip"])["id"] for i in range(5)]
    for i in range(3):
        create(api, email=f"u{i}@x.com")

    seen = [c["id"] for page in walk_pages(api, "/customers", {"tag": "vip"}, limit=2) for c in page]
    assert seen == sorted(tagged, reverse=True)


def test_list_limit_above_200_is_a_422_naming_limit(api):
    assert api.get("/customers", query_string={"limit": 200}).status_code == 200
    assert_error(api.get("/customers", query_string={"limit": 201}), 422, field="limit")
    assert_error(api.get("/customers", query_string={"limit": 0}), 422, field="limit")
    assert_error(api.get("/customers", query_string={"limit": "ten"}), 422, field="limit")


def test_list_with_a_tampered_cursor_is_a_422_naming_cursor(api):
    for cursor in ("not-a-cursor", "WyJ4Il0", "e30", "W10"):  # garbage, ["x"], {}, []
        assert_error(api.get("/customers", query_string={"cursor": cursor}), 422, field="cursor")


def test_list_rejects_unknown_query_parameters(api):
    assert_error(api.get("/customers", query_string={"sort": "email"}), 422, field="sort")


# --- one customer: get, patch, delete ---------------------------------------------------

def test_get_one_customer(api):
    customer = create(api, email="ann@x.com", first_name="Ann", tags=["vip"])

    response = api.get(f"/customers/{customer['id']}")

    assert response.status_code == 200
    assert response.json == customer


def test_get_a_missing_customer_is_a_404(api):
    assert_error(api.get("/customers/999999"), 404, code="not_found")


def test_patch_replaces_tags(api):
    customer = create(api, email="ann@x.com", tags=["vip", "student"])

    response = api.patch(f"/customers/{customer['id']}", json={"tags": ["Newsletter", "vip"]})

    assert response.status_code == 200
    assert response.json["tags"] == ["newsletter", "vip"]
    stored = db.session.scalars(select(CustomerTag.tag).where(CustomerTag.customer_id == customer["id"]))
    assert sorted(stored) == ["newsletter", "vip"]


def test_patch_with_an_empty_tag_list_removes_every_tag(api):
    customer = create(api, email="ann@x.com", tags=["vip"])
    assert api.patch(f"/customers/{customer['id']}", json={"tags": []}).json["tags"] == []


def test_patch_merges_attributes_and_null_deletes_a_key(api):
    customer = create(api, email="ann@x.com", attributes={"city": "Berlin", "seats": 2, "row": "B"})

    response = api.patch(f"/customers/{customer['id']}",
                         json={"attributes": {"seats": 3, "row": None, "vip_since": 2024}})

    assert response.status_code == 200
    assert response.json["attributes"] == {"city": "Berlin", "seats": 3, "vip_since": 2024}


def test_patch_changes_only_the_given_fields(api):
    customer = create(api, email="ann@x.com", first_name="Ann", last_name="Lee", tags=["vip"])

    response = api.patch(f"/customers/{customer['id']}", json={"last_name": "Kim", "email_status": "unsubscribed"})

    body = response.json
    assert (body["first_name"], body["last_name"], body["email_status"]) == ("Ann", "Kim", "unsubscribed")
    assert body["tags"] == ["vip"]
    assert body["email"] == "ann@x.com"


def test_patch_email_to_another_customers_email_is_a_409_naming_email(api):
    create(api, email="taken@x.com")
    customer = create(api, email="ann@x.com")

    assert_error(api.patch(f"/customers/{customer['id']}", json={"email": "TAKEN@x.com"}), 409,
                 field="email", code="conflict")
    assert api.get(f"/customers/{customer['id']}").json["email"] == "ann@x.com"


def test_patch_external_id_to_another_customers_is_a_409_naming_external_id(api):
    create(api, email="one@x.com", external_id="tp-1")
    customer = create(api, email="two@x.com", external_id="tp-2")

    assert_error(api.patch(f"/customers/{customer['id']}", json={"external_id": "tp-1"}), 409,
                 field="external_id")


def test_patch_email_is_stored_lower_cased(api):
    customer = create(api, email="ann@x.com")
    assert api.patch(f"/customers/{customer['id']}", json={"email": "Ann.Lee@X.com"}).json["email"] == "ann.lee@x.com"


def test_patch_with_an_unknown_email_status_is_a_422_naming_it(api):
    customer = create(api, email="ann@x.com")
    assert_error(api.patch(f"/customers/{customer['id']}", json={"email_status": "gone"}), 422, field="email_status")


def test_patch_with_an_unknown_timezone_is_a_422_naming_timezone(api):
    customer = create(api, email="ann@x.com")
    assert_error(api.patch(f"/customers/{customer['id']}", json={"timezone": "Mars/Base"}), 422, field="timezone")


def test_patch_cannot_set_aggregates(api):
    customer = create(api, email="ann@x.com")
    assert_error(api.patch(f"/customers/{customer['id']}", json={"total_spent": 5}), 422, field="total_spent")


def test_delete_erases_the_customer_their_activities_and_tags(api):
    gone = create(api, email="gone@x.com", tags=["vip", "student"])
    kept = create(api, email="kept@x.com", tags=["vip"])
    for customer in (gone, kept):
        api.post("/activities", json={"customer_id": customer["id"], "type": "signup"})
        api.post("/activities", json={"customer_id": customer["id"], "type": "purchase",
                                      "properties": {"order_total": 10, "order_id": f"o-{customer['id']}"}})

    response = api.delete(f"/customers/{gone['id']}")

    assert response.status_code == 204
    assert response.get_data() == b""
    assert db.session.get(Customer, gone["id"]) is None
    assert db.session.scalar(select(func.count()).select_from(CustomerActivity)
                             .where(CustomerActivity.customer_id == gone["id"])) == 0
    assert db.session.scalar(select(func.count()).select_from(CustomerTag)
                             .where(CustomerTag.customer_id == gone["id"])) == 0
    # The other customer keeps everything.
    assert db.session.scalar(select(func.count()).select_from(CustomerActivity)
                             .where(CustomerActivity.customer_id == kept["id"])) == 2
    assert api.get(f"/customers/{kept['id']}").json["tags"] == ["vip"]
    assert_error(api.get(f"/customers/{gone['id']}"), 404)
    assert_error(api.delete(f"/customers/{gone['id']}"), 404)


def test_an_erased_customers_order_id_can_be_recorded_again(api):
    # After erasure nothing of the customer remains, not even the order ids they used.
    gone = create(api, email="gone@x.com")
    api.post("/activities", json={"customer_id": gone["id"], "type": "purchase",
                                  "properties": {"order_total": 10, "order_id": "o-1"}})
    api.delete(f"/customers/{gone['id']}")
    again = create(api, email="gone@x.com")

    response = api.post("/activities", json={"customer_id": again["id"], "type": "purchase",
                                             "properties": {"order_total": 10, "order_id": "o-1"}})

    assert response.status_code == 201
    assert api.get(f"/customers/{again['id']}").json["orders_count"] == 1
