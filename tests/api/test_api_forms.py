"""Signup forms over the API: create with defaults, list, read, change, archive, delete;
every rule is a 422 naming its field with nothing saved; another organisation's topic or
form is refused like a missing one."""

from __future__ import annotations

import json

from api_assertions import assert_error, walk_pages
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import SignupForm, Topic

FULL = {
    "name": "Newsletter",
    "fields": {"first_name": "required", "last_name": "optional",
               "custom": [{"key": "favourite_genre", "label": "Favourite genre", "kind": "select",
                           "options": ["Jazz", "Rock"]},
                          {"key": "birthday", "label": "Birthday", "kind": "date", "required": True}]},
    "consent_text": "Send me Arena Alpha's news.",
    "double_opt_in": False,
    "confirmation_subject": "Please confirm",
    "confirmation_body": "Hello!\n\nPress the button.",
    "success_message": "Welcome aboard.",
}


def make_topic(tenant_id: int, name: str = "Jazz listings", default: bool = True) -> int:
    topic = Topic(tenant_id=tenant_id, name=name, default_subscribed=default)
    db.session.add(topic)
    db.session.commit()
    return topic.id


def form_count() -> int:
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(SignupForm))


def test_a_form_made_with_a_name_only_gets_sensible_defaults_in_the_organisations_name(api):
    response = api.post("/forms", json={"name": "Newsletter"})

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["double_opt_in"] is True and body["status"] == "active"
    assert body["fields"] == {"first_name": "optional", "last_name": "off", "custom": []}
    assert body["topics"] == []
    assert "Arena Alpha" in body["consent_text"] and "Arena Alpha" in body["confirmation_subject"]
    assert body["url"] == f"http://crm.test/f/{body['public_id']}"
    assert len(body["public_id"]) >= 20
    assert f'src="{body["url"]}"' in body["embed_html"] and body["embed_html"].startswith("<iframe")
    assert (body["submissions_count"], body["confirmations_count"]) == (0, 0)


def test_a_full_form_round_trips_and_reads_back_the_same(api, tenant_a):
    topic_id = make_topic(tenant_a.id)
    created = api.post("/forms", json={**FULL, "topics": [{"id": topic_id, "checked": True}]}).get_json()

    read = api.get(f"/forms/{created['id']}").get_json()

    assert read == created
    assert read["topics"] == [{"id": topic_id, "checked": True}]
    assert read["fields"]["custom"][0] == {"key": "favourite_genre", "label": "Favourite genre", "kind": "select",
                                           "required": False, "options": ["Jazz", "Rock"]}
    assert read["double_opt_in"] is False and read["success_message"] == "Welcome aboard."


def test_the_list_pages_newest_first(api):
    for i in range(5):
        api.post("/forms", json={"name": f"Form {i}"})

    pages = walk_pages(api, "/forms")

    assert [f["name"] for page in pages for f in page] == [f"Form {i}" for i in range(4, -1, -1)]


def test_patch_changes_only_the_given_keys_and_archiving_takes_the_hosted_page_down(api, client):
    created = api.post("/forms", json=FULL).get_json()
    assert client.get(f"/f/{created['public_id']}").status_code == 200

    patched = api.patch(f"/forms/{created['id']}", json={"name": "Renamed", "status": "archived"}).get_json()

    assert patched["name"] == "Renamed" and patched["status"] == "archived"
    assert patched["consent_text"] == FULL["consent_text"] and patched["fields"] == api.get(
        f"/forms/{created['id']}").get_json()["fields"]
    assert client.get(f"/f/{created['public_id']}").status_code == 404


def test_delete_removes_the_form(api):
    created = api.post("/forms", json={"name": "Gone soon"}).get_json()

    assert api.delete(f"/forms/{created['id']}").status_code == 204
    assert_error(api.get(f"/forms/{created['id']}"), 404)


def test_another_organisations_topic_is_a_422_naming_the_entry_and_nothing_is_saved(api, tenant_a, tenant_b):
    mine, theirs = make_topic(tenant_a.id), make_topic(tenant_b.id, "B's news")

    response = api.post("/forms", json={"name": "Sneaky", "topics": [{"id": mine}, {"id": theirs}]})

    assert_error(response, 422, field="topics[1].id")
    assert str(theirs) in response.get_json()["error"]["message"]
    assert form_count() == 0
    created = api.post("/forms", json={"name": "Fine"}).get_json()
    assert_error(api.patch(f"/forms/{created['id']}", json={"topics": [{"id": theirs}]}), 422, field="topics[0].id")
    assert api.get(f"/forms/{created['id']}").get_json()["topics"] == []


def test_another_organisations_form_is_not_found(api, api_b):
    created = api.post("/forms", json={"name": "A's form"}).get_json()

    assert_error(api_b.get(f"/forms/{created['id']}"), 404)
    assert_error(api_b.patch(f"/forms/{created['id']}", json={"name": "Hijacked"}), 404)
    assert_error(api_b.delete(f"/forms/{created['id']}"), 404)
    assert api_b.get("/forms").get_json()["data"] == []
    assert api.get(f"/forms/{created['id']}").get_json()["name"] == "A's form"


BAD_BODIES = [
    ({"name": ""}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": "Ok", "fields": {"first_name": "sometimes"}}, "fields.first_name"),
    ({"name": "Ok", "fields": {"custom": [{"key": "Bad Key", "label": "X"}]}}, "fields.custom[0].key"),
    ({"name": "Ok", "fields": {"custom": [{"key": "genre", "label": "Genre", "kind": "select"}]}},
     "fields.custom[0].options"),
    ({"name": "Ok", "fields": {"custom": [{"key": "a", "label": "A"}, {"key": "a", "label": "B"}]}},
     "fields.custom[1].key"),
    ({"name": "Ok", "fields": {"custom": [{"key": "a", "label": "A", "kind": "colour"}]}}, "fields.custom[0].kind"),
    ({"name": "Ok", "topics": [{"id": 0}]}, "topics[0].id"),
    ({"name": "Ok", "topics": [{"id": 2**40}]}, "topics[0].id"),
    ({"name": "Ok", "confirmation_subject": "Hi\r\nBcc: victim@example.com"}, "confirmation_subject"),
    ({"name": "Ok", "consent_text": "x" * 2001}, "consent_text"),
    ({"name": "Ok", "double_opt_in": "yes"}, "double_opt_in"),
    ({"name": "Ok", "status": "deleted"}, "status"),
    ({"name": "Ok", "colour": "red"}, "colour"),
    ({"name": "Ok\u0000"}, "name"),
]


def test_each_broken_rule_is_a_422_naming_its_field_and_nothing_is_saved(api):
    for body, field in BAD_BODIES:
        assert_error(api.post("/forms", json=body), 422, field=field, case=body)
    assert form_count() == 0


def test_patch_refuses_null_for_a_required_text(api):
    created = api.post("/forms", json={"name": "Keep"}).get_json()

    assert_error(api.patch(f"/forms/{created['id']}", json={"consent_text": None}), 422, field="consent_text")
    assert api.get(f"/forms/{created['id']}").get_json()["consent_text"] == created["consent_text"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=300),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.fixed_dictionaries({"name": st.text(max_size=300)}, optional={
    "fields": json_values, "topics": json_values, "consent_text": json_values, "confirmation_body": json_values,
    "double_opt_in": json_values, "status": json_values}))
def test_any_json_body_is_a_201_or_a_clean_error_never_a_500(api, body):
    response = api.post("/forms", data=json.dumps(body, allow_nan=True), content_type="application/json")

    assert response.status_code in (201, 400, 422), (body, response.get_data(as_text=True)[:300])
    if response.status_code != 201:
        assert_error(response, response.status_code)


def test_deeply_nested_fields_are_refused_cleanly(api):
    nested = "[" * 5000 + "]" * 5000
    response = api.post("/forms", data='{"name": "Deep", "fields": {"custom": ' + nested + "}}",
                        content_type="application/json")

    assert response.status_code in (400, 422)
    assert form_count() == 0
