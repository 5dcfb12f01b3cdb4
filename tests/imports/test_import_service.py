"""Customer CSV import: mapping, row checks with the API's rules, the bulk upsert, the
duplicate rule, resumption, and segments recalculated once at the end."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.infra.errors import Conflict, ValidationFailed
from webapp.models import Customer, CustomerImport, CustomerSegmentMember
from webapp.services import imports
from webapp.services.customers import find_customer, upsert_customer
from webapp.services.imports import lifecycle, runner, writers
from webapp.services.segments import create_segment

from .support import csv_bytes


def run(tenant_id: int, content: bytes, mapping=None) -> CustomerImport:
    """Upload, start and run the import in this process (as the job would)."""
    customer_import = imports.create_import(tenant_id, "customers.csv", content)
    imports.start_import(tenant_id, customer_import.id, mapping)
    imports.run_import(customer_import.id)
    db.session.expire_all()
    return db.session.get(CustomerImport, customer_import.id)


def rejected(tenant_id: int, import_id: int) -> dict[int, str]:
    _, rows = imports.rejected_rows(tenant_id, import_id)
    return {row[0]: row[1] for row in rows}


def customer(tenant_id: int, email: str) -> Customer:
    found = find_customer(tenant_id, email=email)
    assert found is not None, email
    return found


def test_headers_are_guessed_and_unknown_columns_become_attributes():
    columns = ["E-mail", "First Name", "Surname", "Customer ID", "Tags", "Total spent", "Orders",
               "Favourite venue"]

    assert imports.guess_mapping(columns) == ["email", "first_name", "last_name", "external_id", "tags",
                                              "total_spent", "orders_count", "attribute"]


def test_mixed_good_and_bad_rows_give_exact_counts_and_reasons(tenant_a):
    upsert_customer(tenant_a.id, {"email": "known@example.com", "first_name": "Old", "tags": ["old"],
                                  "attributes": {"seat": "B2", "kept": "yes"}})
    content = csv_bytes(
        "email,first_name,tags,total_spent,orders_count,timezone,seat",
        "ann@example.com,Ann,\"vip, early\",120.50,3,Europe/Berlin,A1",  # 2 good, new
        "not-an-email,Bob,,,,,",                                         # 3 bad email
        "known@example.com,New,vip,,,,C3",                               # 4 good, update
        "cy@example.com,Cy,,lots,,,",                                    # 5 bad money
        "dee@example.com,Dee,,,2.5,,",                                   # 6 bad count
        "eve@example.com,Eve,,,,Mars/Olympus,",                          # 7 bad timezone
        "fay@example.com,Fay,bad!tag,,,,",                               # 8 bad tag
        ",NoEmail,,,,,",                                                 # 9 neither email nor id
        "gus@example.com,Gus,,\"1,250.00\",,,",                          # 10 good, thousands separator
    )

    result = run(tenant_a.id, content)

    assert (result.status, result.total_rows, result.processed_rows) == ("done", 9, 9)
    assert (result.created_count, result.updated_count, result.rejected_count) == (2, 1, 6)
    reasons = rejected(tenant_a.id, result.id)
    assert sorted(reasons) == [3, 5, 6, 7, 8, 9]
    assert reasons[3].startswith("email: ")
    assert reasons[5] == "total_spent: 'lots' is not a number"
    assert reasons[6] == "orders_count: '2.5' is not a whole number"
    assert reasons[7].startswith("timezone: 'Mars/Olympus' is not an IANA timezone")
    assert reasons[8].startswith("tags[0]: tags are 1-100 characters")
    assert reasons[9] == "email: email or external_id is required"
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 3
    ann = customer(tenant_a.id, "ann@example.com")
    assert (ann.first_name, ann.tags, ann.total_spent, ann.orders_count, ann.timezone, ann.attributes) == (
        "Ann", ["early", "vip"], Decimal("120.50"), 3, "Europe/Berlin", {"seat": "A1"})
    known = customer(tenant_a.id, "known@example.com")
    # Upsert like the API's POST /customers: fields replaced, tags added, attributes merged.
    assert (known.first_name, known.tags, known.attributes) == ("New", ["old", "vip"],
                                                                 {"seat": "C3", "kept": "yes"})
    assert customer(tenant_a.id, "gus@example.com").total_spent == Decimal("1250.00")


def test_duplicate_emails_within_a_file_keep_the_first_row_and_reject_the_later_ones(tenant_a):
    content = csv_bytes(
        "email,first_name,external_id",
        "ann@example.com,First,",
        "bob@example.com,Bob,b-1",
        "ANN@Example.com,Second,",     # same address, other case
        "carl@example.com,Carl,b-1",   # same external id as line 3
        "ann@example.com,Third,",
    )

    result = run(tenant_a.id, content)

    assert (result.created_count, result.updated_count, result.rejected_count) == (2, 0, 3)
    assert rejected(tenant_a.id, result.id) == {
        4: "email: duplicate: line 2 of this file has the same email",
        5: "external_id: duplicate: line 3 of this file has the same external_id",
        6: "email: duplicate: line 2 of this file has the same email",
    }
    assert customer(tenant_a.id, "ann@example.com").first_name == "First"
    assert find_customer(tenant_a.id, email="carl@example.com") is None


def test_rows_match_by_external_id_then_email_and_conflicts_are_rejected(tenant_a):
    upsert_customer(tenant_a.id, {"email": "old@example.com", "external_id": "p-1"})
    upsert_customer(tenant_a.id, {"email": "taken@example.com"})
    upsert_customer(tenant_a.id, {"email": "linked@example.com", "external_id": "p-9"})
    content = csv_bytes(
        "external_id,email,first_name",
        "p-1,new@example.com,Renamed",        # 2 found by external id: the email changes
        "p-2,taken@example.com,Linked",       # 3 found by email: gets the external id
        "p-3,linked@example.com,Clash",       # 4 that email's customer has another external id
        "p-1,,Again",                         # 5 duplicate external id in the file
        "p-4,,Nobody",                        # 6 unknown external id and no email
    )

    result = run(tenant_a.id, content)

    assert (result.created_count, result.updated_count, result.rejected_count) == (0, 2, 3)
    reasons = rejected(tenant_a.id, result.id)
    assert reasons[4] == "external_id: this email belongs to a customer with another external_id"
    assert reasons[5].startswith("external_id: duplicate: line 2")
    assert reasons[6] == "email: is required to create a customer"
    assert find_customer(tenant_a.id, external_id="p-1").email == "new@example.com"
    assert find_customer(tenant_a.id, email="taken@example.com").external_id == "p-2"
    assert find_customer(tenant_a.id, external_id="p-3") is None


def test_an_email_taken_by_another_customer_is_rejected_not_merged(tenant_a):
    upsert_customer(tenant_a.id, {"email": "one@example.com", "external_id": "x-1"})
    upsert_customer(tenant_a.id, {"email": "two@example.com", "external_id": "x-2"})

    result = run(tenant_a.id, csv_bytes("external_id,email", "x-1,two@example.com"))

    assert (result.created_count, result.updated_count, result.rejected_count) == (0, 0, 1)
    assert rejected(tenant_a.id, result.id) == {2: "email: another customer already has this email"}
    assert find_customer(tenant_a.id, external_id="x-1").email == "one@example.com"


def test_a_column_named_explicitly_takes_the_field_from_a_guessed_one(tenant_a):
    content = csv_bytes("email,work email", "home@example.com,work@example.com")

    result = run(tenant_a.id, content, {"work email": "email"})

    assert result.created_count == 1
    assert customer(tenant_a.id, "work@example.com").attributes == {"email": "home@example.com"}


def test_an_explicit_mapping_renames_attributes_and_ignores_columns(tenant_a):
    content = csv_bytes("Mail,Notes,Seat,Spend", "ann@example.com,call her,A1,10")

    result = run(tenant_a.id, content, {"Mail": "email", "Notes": "ignore", "Seat": "attribute:seat_pref",
                                        "Spend": "total_spent"})

    ann = customer(tenant_a.id, "ann@example.com")
    assert result.created_count == 1
    assert (ann.attributes, ann.total_spent) == ({"seat_pref": "A1"}, Decimal("10"))


@pytest.mark.parametrize(("mapping", "field", "reason"), [
    ({"email": "ignore"}, "mapping", "map a column to email or external_id"),
    ({"nope": "email"}, "mapping.nope", "is not a column of the file"),
    ({"email": "email", "name": "email"}, "mapping.name", "email is already filled from column 'email'"),
    ({"name": "birthday"}, "mapping.name", "'birthday' is not one of"),
    ({"name": "attribute:email", "city": "attribute:email"}, "mapping.city", "the attribute 'email' is already"),
])
def test_a_bad_mapping_is_refused_naming_the_column(tenant_a, mapping, field, reason):
    customer_import = imports.create_import(tenant_a.id, "c.csv", csv_bytes("email,name,city", "a@b.co,A,X"))

    with pytest.raises(ValidationFailed) as caught:
        imports.start_import(tenant_a.id, customer_import.id, mapping)

    assert caught.value.field == field
    assert reason in caught.value.reason
    assert db.session.get(CustomerImport, customer_import.id).status == "uploaded"


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "is empty"),
    (b"email,name,Email\na@b.co,A,a@b.co\n", "the column name 'Email' appears twice"),
    (b"email,,city\n", "column 2 has no name"),
    (b"\x00\x01binary", "is not a CSV text file"),
])
def test_an_unusable_file_is_refused_at_upload(tenant_a, content, reason):
    with pytest.raises(ValidationFailed) as caught:
        imports.create_import(tenant_a.id, "c.csv", content)

    assert caught.value.field == "file"
    assert reason in caught.value.reason
    assert db.session.scalar(select(func.count()).select_from(CustomerImport)) == 0


def test_semicolons_and_windows_1252_from_spreadsheets_are_read(tenant_a):
    content = "email;first_name\r\nzoe@example.com;Zoë\r\n".encode("cp1252")

    result = run(tenant_a.id, content)

    assert result.created_count == 1
    assert customer(tenant_a.id, "zoe@example.com").first_name == "Zoë"


def test_a_started_import_cannot_be_started_again(tenant_a):
    customer_import = imports.create_import(tenant_a.id, "c.csv", csv_bytes("email", "a@b.co"))
    imports.start_import(tenant_a.id, customer_import.id, None)

    with pytest.raises(Conflict):
        imports.start_import(tenant_a.id, customer_import.id, None)


def test_segments_are_recalculated_once_after_the_import(tenant_a):
    segment = create_segment(tenant_a.id, "VIPs", [{"type": "tag", "operator": "has", "value": "vip"}])
    content = csv_bytes("email,tags", "a@example.com,vip", "b@example.com,", "c@example.com,vip")

    run(tenant_a.id, content)

    members = set(db.session.scalars(select(Customer.email).join(
        CustomerSegmentMember, CustomerSegmentMember.customer_id == Customer.id)
        .where(CustomerSegmentMember.segment_id == segment.id)))
    assert members == {"a@example.com", "c@example.com"}
    db.session.refresh(segment)
    assert segment.member_count == 2


def test_an_interrupted_import_resumes_after_its_last_committed_chunk(tenant_a, monkeypatch, app):
    monkeypatch.setattr(runner, "CHUNK_ROWS", 3)
    lines = ["email,orders_count"] + [f"fan{i}@example.com,{i}" for i in range(10)] + ["bad,1"]
    customer_import = imports.create_import(tenant_a.id, "c.csv", csv_bytes(*lines))
    imports.start_import(tenant_a.id, customer_import.id, None)
    real_write = runner._write_chunk
    calls = []

    def dies_on_the_third_chunk(tenant_id, chunk):
        calls.append(chunk.end)
        if len(calls) == 3:
            raise RuntimeError("worker killed")
        return real_write(tenant_id, chunk)

    monkeypatch.setattr(runner, "_write_chunk", dies_on_the_third_chunk)
    with pytest.raises(RuntimeError):
        imports.run_import(customer_import.id)
    db.session.rollback()
    half = db.session.get(CustomerImport, customer_import.id)
    assert (half.status, half.processed_rows, half.created_count) == ("running", 6, 6)
    # A second worker does not take over a live import...
    assert imports.run_import(customer_import.id) is None
    # ...but does once its lease has run out.
    monkeypatch.setitem(app.config, "IMPORT_LEASE_SECONDS", 0)
    assert imports.imports_to_resume() == [customer_import.id]
    counts = imports.run_import(customer_import.id)

    assert counts == {"created": 10, "updated": 0, "rejected": 1}
    assert calls == [3, 6, 9, 9, 11]
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 10
    reasons = rejected(tenant_a.id, customer_import.id)
    assert list(reasons) == [12] and reasons[12].startswith("email: ")


def test_a_customer_created_between_lookup_and_insert_is_updated_row_by_row(tenant_a, monkeypatch):
    """The race the bulk path cannot see: another request creates the customer after the
    chunk's lookup. The INSERT skips it, and the chunk is redone with the API's upsert."""
    upsert_customer(tenant_a.id, {"email": "ann@example.com", "first_name": "Ann", "tags": ["old"]})
    monkeypatch.setattr(writers, "_lookup", lambda tenant_id, rows: ({}, {}))  # saw nobody

    result = run(tenant_a.id, csv_bytes("email,first_name,tags", "ann@example.com,Annie,new",
                                        "bo@example.com,Bo,", "bad,x,"))

    assert (result.created_count, result.updated_count, result.rejected_count) == (1, 1, 1)
    ann = customer(tenant_a.id, "ann@example.com")
    assert (ann.first_name, ann.tags) == ("Annie", ["new", "old"])
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 2


def test_lost_imports_are_enqueued_again_by_the_periodic_job(tenant_a, app, monkeypatch):
    from rq import Queue

    from webapp.infra.queues import redis_connection
    from webapp.tasks.imports import resume_lost_imports
    from webapp.tasks.schedule import periodic_jobs

    customer_import = imports.create_import(tenant_a.id, "c.csv", csv_bytes("email", "a@b.co"), start=True)
    queue = Queue("bulk", connection=redis_connection())
    queue.empty()  # Redis lost the job
    assert resume_lost_imports() == 0  # queued a moment ago: its job may still be on the way

    monkeypatch.setattr(lifecycle, "utcnow", lambda: db.session.get(CustomerImport, customer_import.id)
                        .updated_at + timedelta(minutes=2))
    assert resume_lost_imports() == 1

    assert queue.job_ids == [f"customer-import-{customer_import.id}"]
    assert "imports-resume" in {job.id for job in periodic_jobs()}


def test_the_preview_reads_only_the_head_of_a_large_file(tenant_a):
    lines = ["email,note"] + [f"fan{i}@example.com,{'x' * 200}" for i in range(3000)]
    content = csv_bytes(*lines)
    assert len(content) > imports.PREVIEW_BYTES
    customer_import = imports.create_import(tenant_a.id, "big.csv", content)

    rows = imports.preview(customer_import, customer_import.mapping)

    assert [row.line for row in rows] == list(range(2, 12))
    assert imports.head(content).endswith(b"\n") and len(imports.head(content)) <= imports.PREVIEW_BYTES
    assert customer_import.total_rows == 3000
