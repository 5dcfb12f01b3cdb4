"""Customers' topics and campaigns' topic over the API, consent records for email status
changes, and the workflow triggers a topic change fires."""

from __future__ import annotations

from api_assertions import assert_error
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AutomationEnrollment, ConsentRecord


def _topics(api) -> tuple[int, int]:
    jazz = api.post("/topics", json={"name": "Jazz listings"}).get_json()["id"]
    surveys = api.post("/topics", json={"name": "Surveys", "default_subscribed": False}).get_json()["id"]
    return jazz, surveys


def test_topics_read_and_write_on_customers(api):
    jazz, surveys = _topics(api)
    ann = api.post("/customers", json={"email": "ann@x.com"}).get_json()
    assert ann["topics"] == [jazz]  # the defaults

    changed = api.patch(f"/customers/{ann['id']}", json={"topics": [surveys]}).get_json()
    assert changed["topics"] == [surveys]
    assert api.get(f"/customers/{ann['id']}").get_json()["topics"] == [surveys]
    assert api.get("/customers").get_json()["data"][0]["topics"] == [surveys]
    assert api.patch(f"/customers/{ann['id']}", json={"topics": []}).get_json()["topics"] == []

    records = db.session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)).all()
    assert [(r.topic_name, r.granted, r.source) for r in records] == [
        ("Jazz listings", False, "api"), ("Surveys", True, "api"), ("Surveys", False, "api")]


def test_another_tenants_or_an_unknown_topic_is_a_422_and_changes_nothing(api, api_b):
    jazz, _ = _topics(api)
    theirs = api_b.post("/topics", json={"name": "Theirs"}).get_json()["id"]
    ann = api.post("/customers", json={"email": "ann@x.com"}).get_json()

    assert_error(api.patch(f"/customers/{ann['id']}", json={"topics": [jazz, theirs]}), 422, field="topics[1]")
    assert_error(api.post("/customers", json={"email": "bob@x.com", "topics": [theirs]}), 422, field="topics[0]")
    assert_error(api.patch(f"/customers/{ann['id']}", json={"topics": None}), 422, field="topics")
    assert_error(api.patch(f"/customers/{ann['id']}", json={"topics": ["1"]}), 422)
    assert_error(api.patch(f"/customers/{ann['id']}", json={"topics": [2**70]}), 422)
    assert api.get("/customers?q=bob").get_json()["data"] == []
    assert db.session.scalars(select(ConsentRecord)).all() == []

    assert_error(api.post("/campaigns", json={"name": "N", "subject": "S", "content": "<p>x</p>",
                                              "topic_id": theirs}), 422, field="topic_id")


def test_a_campaign_carries_its_topic(api):
    jazz, surveys = _topics(api)
    campaign = api.post("/campaigns", json={"name": "N", "subject": "S", "content": "<p>x</p>",
                                            "topic_id": jazz}).get_json()
    assert campaign["topic_id"] == jazz
    assert api.patch(f"/campaigns/{campaign['id']}", json={"topic_id": surveys}).get_json()["topic_id"] == surveys
    assert api.get(f"/campaigns/{campaign['id']}").get_json()["topic_id"] == surveys
    assert api.patch(f"/campaigns/{campaign['id']}", json={"topic_id": None}).get_json()["topic_id"] is None
    copy = api.post(f"/campaigns/{campaign['id']}/duplicate")
    assert copy.get_json()["topic_id"] is None


def test_an_email_status_change_over_the_api_is_a_consent_record(api):
    ann = api.post("/customers", json={"email": "ann@x.com"}).get_json()
    api.patch(f"/customers/{ann['id']}", json={"email_status": "unsubscribed"})
    api.patch(f"/customers/{ann['id']}", json={"email_status": "unsubscribed"})  # no change, no record
    api.post("/customers", json={"email": "ann@x.com", "email_status": "subscribed"})
    records = db.session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)).all()
    assert [(r.topic_id, r.granted, r.source) for r in records] == [(None, False, "api"), (None, True, "api")]
    timeline = [a["type"] for a in api.get(f"/customers/{ann['id']}/timeline").get_json()["data"]]
    assert timeline[:2] == ["resubscribed", "unsubscribed"]


def test_topic_triggers_start_the_workflows_that_listen_for_them(api):
    jazz, surveys = _topics(api)
    flows = {}
    for name, trigger, config in (("Left jazz", "topic_unsubscribed", {"topic_id": jazz}),
                                  ("Left any", "topic_unsubscribed", {}),
                                  ("Joined surveys", "topic_subscribed", {"topic_id": surveys}),
                                  ("Left everything", "unsubscribed", {})):
        created = api.post("/workflows", json={"name": name, "trigger_type": trigger, "trigger_config": config,
                                               "steps": [{"type": "add_tag", "config": {"tag": "x"}}]})
        assert created.status_code == 201, created.get_json()
        flows[name] = created.get_json()["id"]
        assert api.post(f"/workflows/{flows[name]}/toggle", json={"active": True}).status_code == 200
    ann = api.post("/customers", json={"email": "ann@x.com"}).get_json()

    api.patch(f"/customers/{ann['id']}", json={"topics": [surveys]})  # leaves jazz, joins surveys
    api.patch(f"/customers/{ann['id']}", json={"email_status": "unsubscribed"})

    enrolled = {wid for wid in db.session.scalars(select(AutomationEnrollment.workflow_id))}
    assert enrolled == set(flows.values())
    assert_error(api.post("/workflows", json={"name": "Bad", "trigger_type": "topic_subscribed",
                                              "trigger_config": {"topic_id": 999999}}), 422,
                 field="trigger_config.topic_id")
