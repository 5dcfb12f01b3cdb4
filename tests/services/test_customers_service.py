"""The customer service called directly: upsert, races, tags, partial updates, erasure."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.infra.errors import Conflict, NotFound, ValidationFailed
from webapp.models import Customer, CustomerActivity, CustomerTag
from webapp.services import customers


def count(model, **where) -> int:
    stmt = select(func.count()).select_from(model)
    for name, value in where.items():
        stmt = stmt.where(getattr(model, name) == value)
    return db.session.scalar(stmt)




def test_two_threads_upserting_the_same_new_email_create_one_customer(run_in_threads, app, tenant_a):
    def upsert(i: int):
        customer, created = customers.upsert_customer(
            tenant_a.id, {"email": "Race@X.com", "tags": [f"from-{i}"], "attributes": {f"k{i}": i}})
        return customer.id, created

    results = run_in_threads(app, 2, upsert)

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert results[0][0] == results[1][0]
    assert sorted(created for _, created in results) == [False, True]
    assert count(Customer, tenant_id=tenant_a.id) == 1
    customer = db.session.scalar(select(Customer))
    assert customer.email == "race@x.com"
    # Neither thread's tags or attributes were lost.
    assert customer.tags == ["from-0", "from-1"]
    assert customer.attributes == {"k0": 0, "k1": 1}


def test_many_threads_upserting_the_same_new_external_id_create_one_customer(run_in_threads, app, tenant_a):
    def upsert(i: int):
        return customers.upsert_customer(tenant_a.id, {"external_id": "tp-1", "email": "fan@x.com"})[0].id

    results = run_in_threads(app, 6, upsert)

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert len(set(results)) == 1
    assert count(Customer) == 1


def test_concurrent_upserts_adding_the_same_tag_to_a_customer_all_succeed(run_in_threads, app, tenant_a):
    # The platform retries: the same update arrives several times at once.
    customers.upsert_customer(tenant_a.id, {"email": "fan@x.com"})

    def upsert(i: int):
        return customers.upsert_customer(tenant_a.id, {"email": "fan@x.com", "tags": ["vip", f"t{i}"]})[1]

    results = run_in_threads(app, 6, upsert)

    assert results == [False] * 6, results
    assert customers.find_customer(tenant_a.id, email="fan@x.com").tags == ["t0", "t1", "t2", "t3", "t4", "t5",
                                                                            "vip"]


def test_concurrent_updates_replacing_tags_all_succeed(run_in_threads, app, tenant_a):
    customer, _ = customers.upsert_customer(tenant_a.id, {"email": "fan@x.com", "tags": ["old", "vip"]})
    customer_id = customer.id

    results = run_in_threads(app, 4, lambda i: customers.update_customer(
        tenant_a.id, customer_id, {"tags": ["vip", "student"]}).id)

    assert results == [customer_id] * 4, results
    assert customers.get_customer(tenant_a.id, customer_id).tags == ["student", "vip"]


def test_tags_are_normalised_for_case_and_whitespace(tenant_a):
    customer, _ = customers.upsert_customer(tenant_a.id, {"email": "a@x.com",
                                                          "tags": ["  VIP ", "Early   Bird", "vip"]})
    assert customer.tags == ["early bird", "vip"]
    assert sorted(db.session.scalars(select(CustomerTag.tag))) == ["early bird", "vip"]


def test_an_invalid_tag_is_refused_naming_the_field(tenant_a):
    for bad in ["", "   ", "-dash-first", "emoji 🎟", "x" * 101, "semi;colon"]:
        with pytest.raises(ValidationFailed) as info:
            customers.upsert_customer(tenant_a.id, {"email": "a@x.com", "tags": ["ok", bad]})
        assert info.value.field == "tags[1]", bad
    assert count(Customer) == 0


def test_add_tag_refuses_an_invalid_tag_naming_tag(tenant_a):
    customer, _ = customers.upsert_customer(tenant_a.id, {"email": "a@x.com"})
    with pytest.raises(ValidationFailed) as info:
        customers.add_tag(tenant_a.id, customer.id, "<b>")
    assert info.value.field == "tag"


def test_add_tag_normalises_and_logs_tag_added_once(tenant_a):
    customer, _ = customers.upsert_customer(tenant_a.id, {"email": "a@x.com"})
    customers.add_tag(tenant_a.id, customer.id, " VIP ")
    customers.add_tag(tenant_a.id, customer.id, "vip")
    assert customers.get_customer(tenant_a.id, customer.id).tags == ["vip"]
    assert count(CustomerActivity, type="tag_added") == 1


def test_remove_tag_logs_tag_removed_only_when_the_customer_had_it(tenant_a):
    customer, _ = customers.upsert_customer(tenant_a.id, {"email": "a@x.com", "tags": ["vip"]})
    customers.remove_tag(tenant_a.id, customer.id, "VIP")
    customers.remove_tag(tenant_a.id, customer.id, "vip")
    assert customers.get_customer(tenant_a.id, customer.id).tags == []
    assert count(CustomerActivity, type="tag_removed") == 1


def test_upsert_with_an_invalid_email_names_email(tenant_a):
    with pytest.raises(ValidationFailed) as info:
        customers.upsert_customer(tenant_a.id, {"email": "@nope"})
    assert info.value.field == "email"


def test_the_same_email_in_two_tenants_is_two_customers(tenant_a, tenant_b):
    a, created_a = customers.upsert_customer(tenant_a.id, {"email": "ann@x.com"})
    b, created_b = customers.upsert_customer(tenant_b.id, {"email": "ann@x.com"})
    assert created_a and created_b
    assert a.id != b.id


def test_another_tenants_customer_is_not_found(tenant_a, tenant_b):
    customer, _ = customers.upsert_customer(tenant_a.id, {"email": "ann@x.com"})
    with pytest.raises(NotFound):
        customers.get_customer(tenant_b.id, customer.id)
    with pytest.raises(NotFound):
        customers.update_customer(tenant_b.id, customer.id, {"first_name": "Mallory"})
    with pytest.raises(NotFound):
        customers.delete_customer(tenant_b.id, customer.id)
    assert customers.get_customer(tenant_a.id, customer.id).first_name is None


def test_an_update_that_conflicts_leaves_the_session_usable_and_the_row_unchanged(tenant_a):
    customers.upsert_customer(tenant_a.id, {"email": "taken@x.com"})
    customer, _ = customers.upsert_customer(tenant_a.id, {"email": "ann@x.com"})
    customer_id = customer.id

    with pytest.raises(Conflict) as info:
        customers.update_customer(tenant_a.id, customer_id, {"email": "taken@x.com", "first_name": "Ann"})

    assert info.value.details == [{"field": "email", "message": "already taken"}]
    # The caller (a view re-rendering its form, a job moving on) can keep using the session.
    again = customers.get_customer(tenant_a.id, customer_id)
    assert (again.email, again.first_name) == ("ann@x.com", None)


def test_a_refused_update_changes_nothing_even_when_the_session_commits_later(tenant_a):
    customer, _ = customers.upsert_customer(tenant_a.id, {"email": "ann@x.com", "first_name": "Ann"})

    with pytest.raises(ValidationFailed) as info:
        customers.update_customer(tenant_a.id, customer.id,
                                  {"first_name": "Changed", "email": "new@x.com", "tags": ["not ok!"]})
    assert info.value.field == "tags[0]"
    db.session.commit()  # e.g. a job that goes on to other work

    db.session.expire_all()
    stored = db.session.get(Customer, customer.id)
    assert (stored.first_name, stored.email) == ("Ann", "ann@x.com")


def test_delete_customer_erases_activities_and_tags_but_not_other_customers(tenant_a):
    from webapp.services.activities import record_activity

    gone, _ = customers.upsert_customer(tenant_a.id, {"email": "gone@x.com", "tags": ["vip"]})
    kept, _ = customers.upsert_customer(tenant_a.id, {"email": "kept@x.com", "tags": ["vip"]})
    for c in (gone, kept):
        record_activity(tenant_a.id, "signup", customer_id=c.id)
    gone_id = gone.id

    customers.delete_customer(tenant_a.id, gone_id)

    assert count(Customer, id=gone_id) == 0
    assert count(CustomerActivity, customer_id=gone_id) == 0
    assert count(CustomerTag, customer_id=gone_id) == 0
    assert count(CustomerActivity, customer_id=kept.id) == 1
    assert count(CustomerTag, customer_id=kept.id) == 1


def test_list_customers_pages_and_counts(tenant_a, tenant_b):
    made = [customers.upsert_customer(tenant_a.id, {"email": f"c{i}@x.com"})[0].id for i in range(5)]
    customers.upsert_customer(tenant_b.id, {"email": "other@x.com"})

    first = customers.list_customers(tenant_a.id, limit=3)
    rest = customers.list_customers(tenant_a.id, limit=3, cursor=first.next_cursor)

    assert [c.id for c in first.items + rest.items] == sorted(made, reverse=True)
    assert rest.next_cursor is None
    assert customers.count_customers(tenant_a.id) == 5
