"""What the condition builder and the timeline name, read from small tables: the tenant's tags
by a skip scan of their index, its events from the events table, never a scan of every
customer's tags or every purchase; each within the tenant's walls."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from webapp.extensions import db
from webapp.models import CustomerActivity, CustomerTag
from webapp.services.activities import record_activity
from webapp.services.activity_text.names import event_names
from webapp.services.customers import change_tag, upsert_customer
from webapp.services.segments import known_events, known_tags

tags = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ours=st.lists(st.tuples(st.integers(0, 2), tags), max_size=15),
       theirs=st.lists(tags, max_size=5), limit=st.integers(1, 8))
def test_known_tags_are_the_tenants_distinct_tags_in_order_up_to_the_limit(tenant_a, tenant_b, ours, theirs, limit):
    db.session.execute(delete(CustomerTag))
    db.session.commit()
    people = [upsert_customer(tenant_a.id, {"email": f"p{i}@x.com"})[0].id for i in range(3)]
    other = upsert_customer(tenant_b.id, {"email": "other@x.com"})[0].id
    for who, tag in ours:
        change_tag(tenant_a.id, people[who], tag.strip() or "x", add=True)
    for tag in theirs:
        change_tag(tenant_b.id, other, "theirs-" + tag, add=True)
    db.session.commit()
    # The oracle: a DISTINCT in the database's own order (its collation), as before.
    stored = list(db.session.scalars(select(CustomerTag.tag).where(CustomerTag.tenant_id == tenant_a.id)
                                     .distinct().order_by(CustomerTag.tag)))

    assert known_tags(tenant_a.id, limit=limit) == stored[:limit]
    assert known_tags(tenant_a.id) == stored
    assert not any(t.startswith("theirs-") for t in known_tags(tenant_a.id))


def test_known_events_come_from_the_events_table_of_the_tenant(tenant_a, tenant_b):
    ann = upsert_customer(tenant_a.id, {"email": "ann@x.com"})[0]
    bob = upsert_customer(tenant_b.id, {"email": "bob@x.com"})[0]
    record_activity(tenant_a.id, "purchase", customer_id=ann.id,
                    properties={"order_total": 5, "event": {"id": "evt-b", "name": "Brass night"}})
    record_activity(tenant_a.id, "purchase", customer_id=ann.id,
                    properties={"order_total": 5, "event": {"id": "evt-a", "name": "Accordion hour"}})
    record_activity(tenant_b.id, "purchase", customer_id=bob.id,
                    properties={"order_total": 5, "event": {"id": "evt-z", "name": "Their show"}})
    db.session.commit()

    assert known_events(tenant_a.id) == [("evt-a", "Accordion hour"), ("evt-b", "Brass night")]
    assert known_events(tenant_a.id, limit=1) == [("evt-a", "Accordion hour")]


def test_an_event_only_a_page_view_named_takes_its_name_from_that_activity(tenant_a, tenant_b):
    ann = upsert_customer(tenant_a.id, {"email": "ann@x.com"})[0]
    bob = upsert_customer(tenant_b.id, {"email": "bob@x.com"})[0]
    record_activity(tenant_a.id, "purchase", customer_id=ann.id,
                    properties={"order_total": 5, "event": {"id": "evt-1", "name": "Sold show"}})
    db.session.add(CustomerActivity(tenant_id=tenant_a.id, customer_id=ann.id, type="page_view",
                                    event_id="evt-2", event_name="Browsed show", properties={"event_id": "evt-2"}))
    db.session.add(CustomerActivity(tenant_id=tenant_b.id, customer_id=bob.id, type="page_view",
                                    event_id="evt-3", event_name="Their show", properties={"event_id": "evt-3"}))
    db.session.commit()

    assert event_names(tenant_a.id, {"evt-1", "evt-2", "evt-3", "nowhere"}) == {
        "evt-1": "Sold show", "evt-2": "Browsed show"}
