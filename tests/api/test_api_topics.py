"""Topics over the API: CRUD, order, limits, the 409 for a topic unsent campaigns use, and
hostile input that is refused naming the field and never reaches a 5xx."""

from __future__ import annotations

import json

import pytest
from api_assertions import assert_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp.services.topics import MAX_TOPICS

HOSTILE = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _create(api, **body) -> dict:
    response = api.post("/topics", json={"name": "Jazz listings", **body})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_topic_is_created_listed_changed_and_deleted(api):
    jazz = _create(api, description="New jazz nights", default_subscribed=False)
    assert jazz["name"] == "Jazz listings" and jazz["description"] == "New jazz nights"
    assert jazz["default_subscribed"] is False and jazz["position"] == 0 and jazz["subscriber_count"] == 0

    listed = api.get("/topics").get_json()
    assert listed == {"data": [jazz], "next_cursor": None}

    changed = api.patch(f"/topics/{jazz['id']}", json={"name": "Jazz", "default_subscribed": True}).get_json()
    assert changed["name"] == "Jazz" and changed["default_subscribed"] is True
    assert changed["description"] == "New jazz nights"

    assert api.delete(f"/topics/{jazz['id']}").status_code == 204
    assert api.get("/topics").get_json()["data"] == []
    assert_error(api.patch(f"/topics/{jazz['id']}", json={"name": "Back"}), 404, code="not_found")


def test_subscriber_count_follows_the_default_and_explicit_choices(api):
    for email in ("ann@x.com", "bob@x.com", "cy@x.com"):
        api.post("/customers", json={"email": email})
    api.post("/customers", json={"email": "gone@x.com", "email_status": "unsubscribed"})
    news = _create(api, name="News")                                  # opt-out: all three
    surveys = _create(api, name="Surveys", default_subscribed=False)  # opt-in: nobody yet
    counts = {t["name"]: t["subscriber_count"] for t in api.get("/topics").get_json()["data"]}
    assert counts == {"News": 3, "Surveys": 0}

    ann = api.post("/customers", json={"email": "ann@x.com", "topics": [surveys["id"]]}).get_json()
    assert ann["topics"] == [surveys["id"]]
    counts = {t["name"]: t["subscriber_count"] for t in api.get("/topics").get_json()["data"]}
    assert counts == {"News": 2, "Surveys": 1}
    assert news["id"] not in ann["topics"]


def test_names_are_unique_ignoring_case_and_refused_with_a_409(api):
    _create(api, name="Festival news")
    assert_error(api.post("/topics", json={"name": "festival NEWS"}), 409, field="name")
    other = _create(api, name="Surveys")
    assert_error(api.patch(f"/topics/{other['id']}", json={"name": "Festival news"}), 409, field="name")


def test_an_organisation_has_at_most_fifty_topics(api):
    for i in range(MAX_TOPICS):
        _create(api, name=f"Topic {i}")
    assert_error(api.post("/topics", json={"name": "One too many"}), 422, field="name")


def test_position_moves_a_topic_and_renumbers_the_others(api):
    a, b, c = (_create(api, name=n) for n in ("A", "B", "C"))
    moved = api.patch(f"/topics/{c['id']}", json={"position": 0}).get_json()
    assert moved["position"] == 0
    assert [(t["name"], t["position"]) for t in api.get("/topics").get_json()["data"]] == [
        ("C", 0), ("A", 1), ("B", 2)]
    api.patch(f"/topics/{c['id']}", json={"position": 99})
    assert [t["name"] for t in api.get("/topics").get_json()["data"]] == ["A", "B", "C"]
    assert a["id"] != b["id"]


def test_deleting_a_topic_an_unsent_campaign_uses_is_a_409_naming_the_campaign(api):
    jazz = _create(api)
    campaign = api.post("/campaigns", json={"name": "Spring jazz", "subject": "Hi", "content": "<p>Hi</p>",
                                            "topic_id": jazz["id"]}).get_json()
    error = assert_error(api.delete(f"/topics/{jazz['id']}"), 409, field="campaigns")
    assert "Spring jazz" in error["message"]
    assert api.get("/topics").get_json()["data"][0]["id"] == jazz["id"]

    api.patch(f"/campaigns/{campaign['id']}", json={"topic_id": None})
    assert api.delete(f"/topics/{jazz['id']}").status_code == 204


@pytest.mark.parametrize("body,field", [
    ({"name": ""}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "Ok", "description": "d" * 501}, "description"),
    ({"name": "Ok", "default_subscribed": "yes"}, "default_subscribed"),
    ({"name": "Ok", "colour": "red"}, "colour"),
    ({"name": "Nul\u0000byte"}, "name"),
    ({"name": ["nested", ["list"]]}, "name"),
])
def test_bad_topic_bodies_are_422_naming_the_field(api, body, field):
    assert_error(api.post("/topics", json=body), 422, field=field, case=body)
    assert api.get("/topics").get_json()["data"] == []


def test_bad_patches_are_422_and_change_nothing(api):
    jazz = _create(api)
    for body, field in (({"position": -1}, "position"), ({"position": 2**70}, "position"),
                        ({"position": float("nan")}, "position"), ({"name": "y" * 101}, "name"),
                        ({"description": "\ud800"}, "description")):
        response = api._call("PATCH", f"/topics/{jazz['id']}", data=json.dumps(body),
                             content_type="application/json")
        assert response.status_code == 422 or response.status_code == 400, (body, response.get_json())
        if response.status_code == 422:
            assert_error(response, 422, field=field, case=body)
    assert api.get("/topics").get_json()["data"][0] == jazz


def test_deep_nesting_in_a_topic_body_is_refused_not_a_crash(api):
    deep = "[" * 5000 + "]" * 5000
    response = api._call("POST", "/topics", data=f'{{"name": {deep}}}', content_type="application/json")
    assert 400 <= response.status_code < 500


@HOSTILE
@given(name=st.text(max_size=300), description=st.one_of(st.none(), st.text(max_size=700)),
       default=st.one_of(st.booleans(), st.integers(), st.floats(allow_nan=True), st.none()))
def test_any_topic_body_is_created_or_refused_never_a_5xx(api, name, description, default):
    body = {"name": name, "description": description, "default_subscribed": default}
    response = api.post("/topics", json=body)
    assert response.status_code in (201, 409, 422), (body, response.get_data(as_text=True)[:300])
    if response.status_code == 201:
        created = response.get_json()
        assert created["name"] == " ".join(name.split())
        assert api.delete(f"/topics/{created['id']}").status_code == 204
    else:
        assert response.get_json()["error"]["details"]


def test_another_tenants_topic_is_not_found(api, api_b):
    jazz = _create(api)
    assert_error(api_b.patch(f"/topics/{jazz['id']}", json={"name": "Mine"}), 404)
    assert_error(api_b.delete(f"/topics/{jazz['id']}"), 404)
    assert api_b.get("/topics").get_json()["data"] == []
    assert api.get("/topics").get_json()["data"][0]["name"] == "Jazz listings"


# Letters whose case SQLite's lower() does not fold (it folds ASCII only), with ASCII ones.
CASED_NAMES = st.text(alphabet=st.sampled_from("aZéÉäÄßẞøØçÇıİσΣςkK "), min_size=1, max_size=12).filter(
    lambda name: name.strip())


@HOSTILE
@given(name=CASED_NAMES, spelling=st.sampled_from([str, str.upper, str.lower, str.casefold, str.swapcase]),
       position=st.one_of(st.none(), st.integers(min_value=0, max_value=3)))
def test_a_name_another_topic_has_in_any_case_is_a_409_and_changes_nothing(api, name, spelling, position):
    """Whatever the letters and the case, and with a move in the same request: the clash is
    a 409 naming the field, never a 500 from the unique constraint, and nothing moves."""
    first = _create(api, name=name)
    other = _create(api, name="Zz other topic")
    before = api.get("/topics").get_json()["data"]
    clash = spelling(first["name"])
    if clash.casefold() != first["name"].casefold():  # a spelling that is not the same name folded
        clash = first["name"]
    body = {"name": clash} if position is None else {"name": clash, "position": position}

    assert_error(api.patch(f"/topics/{other['id']}", json=body), 409, field="name")
    assert_error(api.post("/topics", json={"name": clash}), 409, field="name")
    assert api.get("/topics").get_json()["data"] == before
    for topic in before:
        assert api.delete(f"/topics/{topic['id']}").status_code == 204
