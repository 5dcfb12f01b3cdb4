"""Topic choices and consent records: defaults, explicit choices, evidence, tenancy."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.models import ConsentRecord, Customer, CustomerActivity, CustomerTopic, Topic, subscribed_to_topic
from webapp.services import consent, customers

FORM = consent.Evidence("form", wording="Send me jazz news", ip_address="203.0.113.9", user_agent="Firefox")


def make_topic(tenant_id: int, name: str, default: bool) -> Topic:
    topic = Topic(tenant_id=tenant_id, name=name, default_subscribed=default)
    db.session.add(topic)
    db.session.commit()
    return topic


def audience(topic: Topic) -> set[str]:
    return set(db.session.scalars(select(Customer.email).where(
        Customer.tenant_id == topic.tenant_id, subscribed_to_topic(topic.id, Customer.id))))


def test_without_a_choice_each_topic_follows_its_default(tenant_a):
    jazz, surveys = make_topic(tenant_a.id, "Jazz", True), make_topic(tenant_a.id, "Surveys", False)
    customer, _ = customers.upsert_customer(tenant_a.id, {"email": "ann@x.com"})

    assert consent.topic_states(tenant_a.id, customer.id) == {jazz.id: True, surveys.id: False}
    assert audience(jazz) == {"ann@x.com"} and audience(surveys) == set()
    assert db.session.scalar(select(CustomerTopic)) is None  # nothing is written for defaults


def test_a_choice_overrides_the_default_and_survives_a_change_of_it(tenant_a):
    jazz, surveys = make_topic(tenant_a.id, "Jazz", True), make_topic(tenant_a.id, "Surveys", False)
    ann, _ = customers.upsert_customer(tenant_a.id, {"email": "ann@x.com"})
    customers.upsert_customer(tenant_a.id, {"email": "bob@x.com"})

    changes = consent.set_topic_choices(ann, {jazz.id: False, surveys.id: True}, FORM)
    db.session.commit()

    assert [(t.name, on) for t, on in changes] == [("Jazz", False), ("Surveys", True)]
    assert audience(jazz) == {"bob@x.com"} and audience(surveys) == {"ann@x.com"}
    jazz.default_subscribed = False
    db.session.commit()
    assert audience(jazz) == set()  # Bob followed the default; Ann's "no" stays a no
    surveys.default_subscribed = True
    db.session.commit()
    assert audience(surveys) == {"ann@x.com", "bob@x.com"}


def test_each_stored_choice_leaves_a_consent_record_with_its_evidence(tenant_a):
    jazz = make_topic(tenant_a.id, "Jazz", True)
    ann, _ = customers.upsert_customer(tenant_a.id, {"email": "ann@x.com"})

    # Granting a default-on topic changes nothing she gets, but is evidence all the same.
    assert consent.set_topic_choices(ann, {jazz.id: True}, FORM) == []
    db.session.commit()
    consent.set_topic_choices(ann, {jazz.id: True}, FORM)  # the same again: nothing new
    consent.set_topic_choices(ann, {jazz.id: False}, consent.Evidence("preference_centre"))
    db.session.commit()

    records = list(db.session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)))
    assert [(r.topic_name, r.granted, r.source) for r in records] == [("Jazz", True, "form"),
                                                                      ("Jazz", False, "preference_centre")]
    assert (records[0].wording, records[0].ip_address, records[0].user_agent) == (
        "Send me jazz news", "203.0.113.9", "Firefox")
    activities = db.session.scalars(select(CustomerActivity.type).where(CustomerActivity.customer_id == ann.id))
    assert "topic_unsubscribed" in list(activities)


def test_another_tenants_topic_is_refused_before_anything_is_written(tenant_a, tenant_b):
    mine, theirs = make_topic(tenant_a.id, "Jazz", True), make_topic(tenant_b.id, "Rock", True)
    ann, _ = customers.upsert_customer(tenant_a.id, {"email": "ann@x.com"})

    with pytest.raises(ValidationFailed) as failure:
        consent.set_topic_choices(ann, {mine.id: False, theirs.id: False}, FORM)

    assert failure.value.field == "topics"
    db.session.rollback()
    assert db.session.scalar(select(CustomerTopic)) is None
    assert db.session.scalar(select(ConsentRecord)) is None
