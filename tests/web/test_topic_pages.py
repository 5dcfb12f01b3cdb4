"""The Topics page (marketers edit, viewers read, a clear empty state, the 409 for a topic an
unsent campaign uses), and a customer's topics and consent history on their page."""

from __future__ import annotations

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import ConsentRecord, Topic
from webapp.services import campaigns, consent, topics

from .conftest import make_customer


def test_the_empty_state_explains_topics_and_the_default(owner_a):
    page = owner_a.get("/topics").get_data(as_text=True)
    assert "No topics yet" in page and "opt-out" in page and "opt-in" in page


def test_a_marketer_adds_edits_moves_and_deletes_a_topic(app, marketer_a, tenant_a):
    response = marketer_a.post("/topics", {"name": "Jazz <b>listings</b>", "description": "Weekly",
                                           "default_subscribed": "no"})
    assert response.status_code == 302
    jazz = db.session.scalar(select(Topic))
    assert (jazz.name, jazz.default_subscribed) == ("Jazz <b>listings</b>", False)
    page = marketer_a.get("/topics").get_data(as_text=True)
    assert "Jazz &lt;b&gt;listings&lt;/b&gt;" in page and "Only people who say yes" in page

    marketer_a.post("/topics", {"name": "Surveys", "default_subscribed": "yes"})
    marketer_a.post(f"/topics/{jazz.id}/move", {"direction": "down"})
    assert [t.name for t in consent.tenant_topics(tenant_a.id)] == ["Surveys", "Jazz <b>listings</b>"]

    assert marketer_a.post(f"/topics/{jazz.id}/edit", {"name": "Jazz", "description": "",
                                                       "default_subscribed": "yes"}).status_code == 302
    db.session.expire_all()
    assert (db.session.get(Topic, jazz.id).name, db.session.get(Topic, jazz.id).default_subscribed) == ("Jazz", True)

    refused = marketer_a.post("/topics", {"name": "surveys", "default_subscribed": "yes"})
    assert refused.status_code == 422 and "another topic already has this name" in refused.get_data(as_text=True)

    campaigns.create_campaign(tenant_a.id, {"name": "Jazz in June", "subject": "Hi", "html_content": "<p>Hi</p>",
                                            "topic_id": jazz.id})
    assert marketer_a.post(f"/topics/{jazz.id}/delete", {}).status_code == 302
    kept = marketer_a.get("/topics").get_data(as_text=True)
    assert "is not deleted" in kept and "Jazz in June" in kept
    assert db.session.get(Topic, jazz.id) is not None


def test_a_viewer_reads_topics_but_cannot_change_them(app, viewer_a, tenant_a):
    jazz = topics.create_topic(tenant_a.id, {"name": "Jazz listings"})
    page = viewer_a.get("/topics").get_data(as_text=True)
    assert "Jazz listings" in page and "Add a topic" not in page and "Delete" not in page
    assert viewer_a.post("/topics", {"name": "Nope", "default_subscribed": "yes"}).status_code == 403
    assert viewer_a.post(f"/topics/{jazz.id}/delete", {}).status_code == 403


def test_the_profile_toggles_topics_and_shows_the_consent_history(app, owner_a, tenant_a):
    jazz = topics.create_topic(tenant_a.id, {"name": "Jazz listings"}).id
    surveys = topics.create_topic(tenant_a.id, {"name": "Surveys", "default_subscribed": False}).id
    ada = make_customer(tenant_a.id, "ada@example.com")
    customer_id = ada.id if hasattr(ada, "id") else ada

    owner_a.post(f"/customers/{customer_id}/topics", {"topics": [str(surveys)]},
                 headers={"User-Agent": "Firefox/140"})
    owner_a.post(f"/customers/{customer_id}/edit", {"email": "ada@example.com", "email_status": "unsubscribed"})

    assert consent.topic_states(tenant_a.id, customer_id) == {jazz: False, surveys: True}
    records = db.session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)).all()
    assert [(r.topic_name, r.granted, r.source) for r in records] == [
        ("Jazz listings", False, "admin"), ("Surveys", True, "admin"), (None, False, "admin")]
    assert records[0].user_agent == "Firefox/140" and "on the customer's page" in records[0].wording
    page = owner_a.get(f"/customers/{customer_id}").get_data(as_text=True)
    assert "Opted out of Jazz listings" in page and "Opted out of all marketing" in page
    assert "changed by your team" in page
