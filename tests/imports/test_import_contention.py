"""An import running beside an on-sale: a chunk the database refuses for contention (a deadlock
with a batch writing the same customers) is written again; refused every time, the import goes
back to the queue with what it had done, and the next run finishes it. Never a failed import,
never a chunk half written or counted twice. PostgreSQL (its deadlock_detected, raised by a
trigger as the loser of a deadlock gets it: tests/conftest.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Customer, CustomerImport
from webapp.services import imports
from webapp.services.customers import upsert_customer
from webapp.services.imports import runner

from .support import csv_bytes

KNOWN = ["known0@example.com", "known1@example.com", "known2@example.com"]
NEW = ["new0@example.com", "new1@example.com", "new2@example.com"]


@pytest.fixture
def started_import(tenant_a, monkeypatch, refusing_customer_writes) -> int:
    """Three new customers in the first chunk, three known ones (updated) in the second."""
    monkeypatch.setattr(runner, "CHUNK_ROWS", 3)
    monkeypatch.setattr(runner, "CONTENTION_PAUSE", 0.01)
    for email in KNOWN:
        upsert_customer(tenant_a.id, {"email": email, "first_name": "Old"})
    lines = ["email,first_name"] + [f"{email},New" for email in NEW + KNOWN]
    customer_import = imports.create_import(tenant_a.id, "c.csv", csv_bytes(*lines))
    imports.start_import(tenant_a.id, customer_import.id, None)
    return customer_import.id


def _names(tenant_id: int) -> dict[str, str]:
    db.session.expire_all()
    rows = db.session.execute(select(Customer.email, Customer.first_name).where(Customer.tenant_id == tenant_id))
    return {email: name for email, name in rows}


def test_a_chunk_refused_for_contention_is_written_again(tenant_a, started_import, refusing_customer_writes):
    refusing_customer_writes(runner.CONTENTION_ATTEMPTS - 1)  # the known customers' UPDATE, 4 times

    counts = imports.run_import(started_import)

    assert counts == {"created": 3, "updated": 3, "rejected": 0}
    assert _names(tenant_a.id) == {email: "New" for email in NEW + KNOWN}
    done = db.session.get(CustomerImport, started_import)
    assert (done.status, done.processed_rows, done.error) == ("done", 6, None)


def test_refused_every_time_the_import_waits_in_the_queue_and_then_finishes(tenant_a, started_import,
                                                                            refusing_customer_writes):
    refusing_customer_writes(runner.CONTENTION_ATTEMPTS)

    assert imports.run_import(started_import) is None
    db.session.expire_all()
    waiting = db.session.get(CustomerImport, started_import)
    # The first chunk stays written and counted; nothing of the second; no failure to read.
    assert (waiting.status, waiting.processed_rows, waiting.created_count, waiting.updated_count,
            waiting.error, waiting.claim_token) == ("queued", 3, 3, 0, None, None)
    assert _names(tenant_a.id) == {**{email: "New" for email in NEW}, **{email: "Old" for email in KNOWN}}
    # The periodic resume takes it up a minute later, and the next run finishes it.
    assert imports.imports_to_resume(now=waiting.updated_at + timedelta(minutes=2)) == [started_import]

    counts = imports.run_import(started_import)

    assert counts == {"created": 3, "updated": 3, "rejected": 0}
    assert _names(tenant_a.id) == {email: "New" for email in NEW + KNOWN}

