"""The tests' "nothing changed" check notices every kind of change, and only in its table."""

from __future__ import annotations

from sqlalchemy import delete, update

from tests.db_state import database_state
from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import ApiToken, CustomerTag
from webapp.services.customers import upsert_customer


def test_an_insert_an_update_and_a_delete_each_change_the_digest_of_their_table_only(tenant_a):
    customer, _ = upsert_customer(tenant_a.id, {"email": "ada@example.com"})
    empty = database_state()

    db.session.add(CustomerTag(tenant_id=tenant_a.id, customer_id=customer.id, tag="vip"))
    db.session.commit()
    tagged = database_state()
    db.session.execute(update(CustomerTag).values(tag="VIP"))
    db.session.commit()
    renamed = database_state()
    db.session.execute(delete(CustomerTag))
    db.session.commit()

    assert {name for name in tagged if tagged[name] != empty[name]} == {"customer_tags"}
    assert {name for name in renamed if renamed[name] != tagged[name]} == {"customer_tags"}
    assert database_state() == empty


def test_uncommitted_rows_are_not_seen_and_a_volatile_column_is_left_out(tenant_a):
    volatile = {("api_tokens", "last_used_at")}
    before, before_without = database_state(), database_state(volatile)
    upsert_customer(tenant_a.id, {"email": "grace@example.com"}, commit=False)
    assert database_state() == before
    db.session.rollback()

    db.session.execute(update(ApiToken).values(last_used_at=utcnow()))
    db.session.commit()

    assert database_state()["api_tokens"] != before["api_tokens"]
    assert database_state(volatile) == before_without
