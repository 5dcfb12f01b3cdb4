"""The `topic` segment condition: subscribed / not_subscribed by the customer's own choice or
the topic's default, kept up to date when a choice changes, agreeing with the reference
evaluator, and blind to another organisation's topics."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Customer, CustomerSegmentMember
from webapp.segments.definition import parse_definition
from webapp.segments.reference import CustomerFacts, matches
from webapp.services import consent, customers, segments, topics


def members(segment_id: int) -> set[str]:
    return set(db.session.scalars(select(Customer.email).join(
        CustomerSegmentMember, CustomerSegmentMember.customer_id == Customer.id)
        .where(CustomerSegmentMember.segment_id == segment_id)))


@pytest.fixture
def people(tenant_a):
    jazz = topics.create_topic(tenant_a.id, {"name": "Jazz listings"}).id
    surveys = topics.create_topic(tenant_a.id, {"name": "Surveys", "default_subscribed": False}).id
    for email in ("ann@x.com", "bob@x.com", "cy@x.com"):
        customers.upsert_customer(tenant_a.id, {"email": email})
    customers.upsert_customer(tenant_a.id, {"email": "bob@x.com", "topics": [surveys]})  # no jazz, yes surveys
    return jazz, surveys


def test_subscribed_follows_defaults_and_choices(tenant_a, people):
    jazz, surveys = people
    on_jazz = segments.create_segment(tenant_a.id, "Jazz fans", [{"type": "topic", "value": jazz}])
    off_surveys = segments.create_segment(tenant_a.id, "No surveys", [
        {"type": "topic", "operator": "not_subscribed", "value": surveys}])
    assert members(on_jazz.id) == {"ann@x.com", "cy@x.com"}
    assert members(off_surveys.id) == {"ann@x.com", "cy@x.com"}


def test_a_change_of_choice_moves_the_customer_at_once(tenant_a, people):
    jazz, _ = people
    segment = segments.create_segment(tenant_a.id, "Jazz fans", [{"type": "topic", "value": jazz}])
    ann = customers.find_customer(tenant_a.id, email="ann@x.com")
    consent.set_topic_choices(ann, {jazz: False}, consent.Evidence("admin"))
    db.session.commit()
    assert members(segment.id) == {"cy@x.com"}


def test_another_organisations_topic_matches_nobody(tenant_a, tenant_b, people):
    theirs = topics.create_topic(tenant_b.id, {"name": "Their news"}).id  # opt-out: everyone, in B
    segment = segments.create_segment(tenant_a.id, "Sneaky", [{"type": "topic", "value": theirs}])
    assert members(segment.id) == set()


@pytest.mark.parametrize("value", [0, -1, "1", 1.5, True, None, 2**63, [1]])
def test_a_value_that_is_no_topic_id_is_refused_naming_it(value):
    from webapp.infra.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        parse_definition([{"type": "topic", "value": value}])
    assert refused.value.field.endswith("value")


def test_the_reference_evaluator_means_the_same(tenant_a, people):
    jazz, surveys = people
    for definition in ([{"type": "topic", "value": jazz}],
                       [{"type": "topic", "operator": "not_subscribed", "value": surveys}]):
        segment = segments.create_segment(tenant_a.id, f"S{definition[0]['value']}", definition)
        expected = set()
        for customer in db.session.scalars(select(Customer).where(Customer.tenant_id == tenant_a.id)):
            facts = CustomerFacts(id=customer.id, email=customer.email,
                                  topics=set(consent.subscribed_topic_ids(tenant_a.id, customer.id)))
            if matches(parse_definition(definition), facts, segment.calculated_at):
                expected.add(customer.email)
        assert members(segment.id) == expected


def test_the_segment_page_names_the_topic(client, auth, tenant_a, people):
    jazz, _ = people
    segment = segments.create_segment(tenant_a.id, "Jazz fans", [{"type": "topic", "value": jazz}])
    auth.login(tenant_a.owner_email)
    page = client.get(f"/segments/{segment.id}").get_data(as_text=True)
    assert "Subscribed to “Jazz listings”" in page
