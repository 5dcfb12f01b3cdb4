"""The segments' versions are read with the workflows' key, once per transaction
(services/cache_keys.py): a change of a segment in this session, flushed or not, is probed
with its new definition, a customer's unflushed change is seen by the probe, and each
tenant's keys hold only its own segments."""

from __future__ import annotations

from tests.sql_support import sql_sent
from webapp.extensions import db
from webapp.models import CustomerSegment, CustomerTag
from webapp.services.cache_keys import tenant_keys
from webapp.services.customers import upsert_customer
from webapp.services.segment_refresh import refresh_customer_segments
from webapp.services.segments import create_segment


def _customer(tenant_id: int, email: str = "ada@example.com", tags: list[str] | None = None) -> int:
    found = upsert_customer(tenant_id, {"email": email, "first_name": "Ada", "tags": tags or []})[0].id
    db.session.commit()
    return found


def _tagged(tag: str) -> list[dict]:
    return [{"type": "tag", "value": tag}]


def _key_reads(statements: list[str]) -> int:
    return len([s for s in statements if "FROM customer_segments" in s or "FROM automation_workflows" in s])


def test_a_transaction_reads_the_segments_and_the_workflows_key_in_one_statement(tenant_a):
    ada = _customer(tenant_a.id, tags=["vip"])
    segment = create_segment(tenant_a.id, "VIPs", _tagged("vip"))
    refresh_customer_segments(tenant_a.id, ada)  # the probe built for this version of the segments
    db.session.commit()

    with sql_sent() as statements:
        refresh_customer_segments(tenant_a.id, ada)
        refresh_customer_segments(tenant_a.id, ada)
        keys = tenant_keys(tenant_a.id)

    assert _key_reads(statements) == 1, statements
    # The keys, and one probe a refresh (PostgreSQL also locks the customer's row for the
    # second on its own: the first took it with the keys).
    assert len([s for s in statements if "AS segment_id" in s]) == 2, statements
    assert len(statements) == (4 if db.engine.dialect.name == "postgresql" else 3), statements
    assert [segment_id for segment_id, _ in keys.segments] == [segment.id]
    assert keys.active[0] == 0 and keys.workflows[0] == 0


def test_a_segment_added_in_this_transaction_and_not_flushed_is_probed(tenant_a):
    ada = _customer(tenant_a.id, tags=["vip"])
    assert tenant_keys(tenant_a.id).segments == []
    assert refresh_customer_segments(tenant_a.id, ada) == {"entered": [], "exited": []}

    segment = CustomerSegment(tenant_id=tenant_a.id, name="VIPs", conditions=_tagged("vip"), match="all",
                              time_relative=False, member_count=0)
    db.session.add(segment)  # an ORM change of this session, not yet flushed

    assert refresh_customer_segments(tenant_a.id, ada)["entered"] == [segment.id]


def test_a_segment_redefined_in_this_transaction_is_probed_with_its_new_definition(tenant_a):
    ada = _customer(tenant_a.id, tags=["vip"])
    segment = create_segment(tenant_a.id, "VIPs", _tagged("vip"))
    db.session.commit()
    assert refresh_customer_segments(tenant_a.id, ada) == {"entered": [], "exited": []}

    segment.conditions = _tagged("gold")  # not flushed

    assert refresh_customer_segments(tenant_a.id, ada)["exited"] == [segment.id]


def test_a_customers_change_not_yet_flushed_is_seen_by_the_probe(tenant_a):
    ada = _customer(tenant_a.id)
    segment = create_segment(tenant_a.id, "VIPs", _tagged("vip"))
    db.session.commit()
    assert refresh_customer_segments(tenant_a.id, ada) == {"entered": [], "exited": []}

    db.session.add(CustomerTag(customer_id=ada, tag="vip", tenant_id=tenant_a.id))  # not flushed

    assert refresh_customer_segments(tenant_a.id, ada)["entered"] == [segment.id]


def test_each_tenants_keys_hold_only_its_own_segments(tenant_a, tenant_b):
    create_segment(tenant_a.id, "VIPs", _tagged("vip"))
    db.session.commit()
    bob = _customer(tenant_b.id, "bob@example.com", tags=["vip"])

    assert len(tenant_keys(tenant_a.id).segments) == 1
    assert tenant_keys(tenant_b.id).segments == []
    assert refresh_customer_segments(tenant_b.id, bob) == {"entered": [], "exited": []}


def test_another_transactions_new_segment_is_seen_by_the_next_transaction(app, tenant_a):
    ada = _customer(tenant_a.id, tags=["vip"])
    assert tenant_keys(tenant_a.id).segments == []
    db.session.commit()
    with app.app_context():  # another session, as another request
        other = create_segment(tenant_a.id, "VIPs", _tagged("vip")).id
        db.session.commit()

    assert [segment_id for segment_id, _ in tenant_keys(tenant_a.id).segments] == [other]
    # Calculated by the other request already: nothing to enter.
    assert refresh_customer_segments(tenant_a.id, ada) == {"entered": [], "exited": []}


def _locked_elsewhere(customer_id: int) -> bool:
    """Whether another connection finds the customer's row locked against a key share."""
    import sqlalchemy as sa

    with db.engine.connect() as other:
        try:
            other.execute(sa.text("SELECT id FROM customers WHERE id = :id FOR UPDATE NOWAIT"), {"id": customer_id})
        except sa.exc.OperationalError:
            return True
        finally:
            other.rollback()
    return False


def test_a_refresh_holds_the_customers_row_until_its_transaction_ends(tenant_a):
    """The lock that keeps two refreshes of one customer apart is taken in the statement
    that reads the keys when the transaction has not read them yet, and on its own when it
    has (and there are segments to refresh)."""
    import pytest

    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite writes one transaction at a time: no row locks")
    ada, bob = _customer(tenant_a.id), _customer(tenant_a.id, "bob@example.com")
    create_segment(tenant_a.id, "VIPs", _tagged("vip"))
    refresh_customer_segments(tenant_a.id, bob)  # the probe built for this version of the segments
    db.session.commit()

    with sql_sent() as statements:
        refresh_customer_segments(tenant_a.id, ada)
    assert _locked_elsewhere(ada) and not _locked_elsewhere(bob)
    assert len(statements) == 2, statements  # the keys with the lock, the probe

    refresh_customer_segments(tenant_a.id, bob)  # the keys known: the lock on its own
    assert _locked_elsewhere(bob)
    db.session.commit()
    assert not _locked_elsewhere(ada) and not _locked_elsewhere(bob)
