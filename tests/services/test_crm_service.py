"""CRMService, the facade both blueprints and integrators call, used the way they do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from webapp.infra.errors import NotFound, ValidationFailed
from webapp.services.crm import CRMService


@pytest.fixture
def crm() -> CRMService:
    return CRMService()


def test_upsert_get_update_and_list_customers(crm, tenant_a):
    customer, created = crm.upsert_customer(tenant_a.id, {"email": "Ann@X.com", "first_name": "Ann",
                                                          "tags": ["VIP"], "attributes": {"city": "Berlin"}})
    again, created_again = crm.upsert_customer(tenant_a.id, {"email": "ann@x.com", "attributes": {"row": "B"}})

    assert (created, created_again) == (True, False)
    assert again.id == customer.id
    assert again.attributes == {"city": "Berlin", "row": "B"}
    assert crm.get_customer(tenant_a.id, customer.id).tags == ["vip"]

    updated = crm.update_customer(tenant_a.id, customer.id, {"last_name": "Lee", "tags": ["student"]})
    assert (updated.first_name, updated.last_name, updated.tags) == ("Ann", "Lee", ["student"])

    page = crm.list_customers(tenant_a.id, q="lee")
    assert [c.id for c in page.items] == [customer.id]
    assert page.next_cursor is None
    assert crm.list_customers(tenant_a.id, tag="vip").items == []


def test_tags_through_the_facade(crm, tenant_a):
    customer, _ = crm.upsert_customer(tenant_a.id, {"email": "ann@x.com"})
    assert crm.add_tag(tenant_a.id, customer.id, "Early Bird").tags == ["early bird"]
    assert crm.remove_tag(tenant_a.id, customer.id, "EARLY BIRD").tags == []
    types = [a.type for a in crm.timeline(tenant_a.id, customer.id).items]
    assert types == ["tag_removed", "tag_added"]


def test_log_activity_counts_a_purchase_once(crm, tenant_a):
    customer, _ = crm.upsert_customer(tenant_a.id, {"email": "ann@x.com"})
    when = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)

    first, created = crm.log_activity(tenant_a.id, "purchase", customer_id=customer.id, occurred_at=when,
                                      properties={"order_total": 19.99, "order_id": "o-1"})
    retry, created_again = crm.log_activity(tenant_a.id, "purchase", customer_id=customer.id, occurred_at=when,
                                            properties={"order_total": 19.99, "order_id": "o-1"})

    assert (created, created_again) == (True, False)
    assert retry.id == first.id
    stored = crm.get_customer(tenant_a.id, customer.id)
    assert (stored.total_spent, stored.orders_count, stored.last_order_at) == (Decimal("19.99"), 1, when)


def test_log_activity_creates_a_customer_named_by_a_new_email(crm, tenant_a):
    activity, _ = crm.log_activity(tenant_a.id, "signup", customer={"email": "New@X.com", "first_name": "Nia"})
    customer = crm.get_customer(tenant_a.id, activity.customer_id)
    assert (customer.email, customer.first_name) == ("new@x.com", "Nia")


def test_log_activity_refuses_a_naive_occurred_at_naming_it(crm, tenant_a):
    customer, _ = crm.upsert_customer(tenant_a.id, {"email": "ann@x.com"})
    with pytest.raises(ValidationFailed) as info:
        crm.log_activity(tenant_a.id, "signup", customer_id=customer.id, occurred_at=datetime(2026, 1, 1))
    assert info.value.field == "occurred_at"


def test_log_activity_refuses_system_types_but_the_product_may_log_them(crm, tenant_a):
    from webapp.services.activities import check_activity_type

    with pytest.raises(ValidationFailed) as info:
        crm.log_activity(tenant_a.id, "email_opened", customer={"email": "a@x.com"})
    assert info.value.field == "type"
    assert check_activity_type("email_opened", allow_system=True) == "email_opened"


def test_add_note_and_timeline_filters(crm, tenant_a):
    customer, _ = crm.upsert_customer(tenant_a.id, {"email": "ann@x.com"})
    base = datetime(2026, 1, 1, tzinfo=UTC)
    crm.log_activity(tenant_a.id, "signup", customer_id=customer.id, occurred_at=base)
    crm.log_activity(tenant_a.id, "purchase", customer_id=customer.id, occurred_at=base + timedelta(days=1),
                     properties={"order_total": 5})
    note = crm.add_note(tenant_a.id, customer.id, "  Called about <b>seats</b>  ", author="owner@alpha.example.com")

    assert note.properties == {"text": "Called about <b>seats</b>", "author": "owner@alpha.example.com"}
    assert [a.type for a in crm.timeline(tenant_a.id, customer.id).items] == ["note", "purchase", "signup"]
    assert [a.type for a in crm.timeline(tenant_a.id, customer.id, types=["signup", "note"]).items] == \
        ["note", "signup"]
    ranged = crm.timeline(tenant_a.id, customer.id, since=base + timedelta(hours=1),
                          until=base + timedelta(days=2))
    assert [a.type for a in ranged.items] == ["purchase"]
    first = crm.timeline(tenant_a.id, customer.id, limit=2)
    rest = crm.timeline(tenant_a.id, customer.id, limit=2, cursor=first.next_cursor)
    assert [a.type for a in first.items + rest.items] == ["note", "purchase", "signup"]
    assert rest.next_cursor is None


def test_add_note_refuses_empty_and_overlong_text(crm, tenant_a):
    customer, _ = crm.upsert_customer(tenant_a.id, {"email": "ann@x.com"})
    for text in ("", "   ", "x" * 5001):
        with pytest.raises(ValidationFailed) as info:
            crm.add_note(tenant_a.id, customer.id, text)
        assert info.value.field == "text"


def test_delete_customer_through_the_facade(crm, tenant_a):
    customer, _ = crm.upsert_customer(tenant_a.id, {"email": "ann@x.com"})
    crm.delete_customer(tenant_a.id, customer.id)
    with pytest.raises(NotFound):
        crm.get_customer(tenant_a.id, customer.id)


def test_other_tenants_ids_are_not_found_through_the_facade(crm, tenant_a, tenant_b):
    customer, _ = crm.upsert_customer(tenant_a.id, {"email": "ann@x.com"})
    for call in (lambda: crm.get_customer(tenant_b.id, customer.id),
                 lambda: crm.timeline(tenant_b.id, customer.id),
                 lambda: crm.add_note(tenant_b.id, customer.id, "hi"),
                 lambda: crm.add_tag(tenant_b.id, customer.id, "vip"),
                 lambda: crm.remove_tag(tenant_b.id, customer.id, "vip"),
                 lambda: crm.log_activity(tenant_b.id, "signup", customer_id=customer.id)):
        with pytest.raises(NotFound):
            call()
    assert crm.timeline(tenant_a.id, customer.id).items == []


def test_create_segment_as_in_the_specification(crm, tenant_a):
    vip, _ = crm.upsert_customer(tenant_a.id, {"email": "vip@x.com", "tags": ["vip"], "total_spent": 150})
    crm.upsert_customer(tenant_a.id, {"email": "plain@x.com", "total_spent": 150})

    segment = crm.create_segment({"tenant_id": tenant_a.id, "name": "Big VIPs", "conditions": [
        {"type": "total_spent", "operator": ">=", "value": 100}, {"type": "tag", "value": "vip"}]})
    result = crm.calculate_segment(tenant_a.id, segment.id)

    assert result.member_count == 1
    assert crm.preview_segment(tenant_a.id, [{"type": "tag", "value": "vip"}])["count"] == 1
    assert [c.id for c in crm.preview_segment(tenant_a.id, [{"type": "tag", "value": "vip"}])["sample"]] == [vip.id]
