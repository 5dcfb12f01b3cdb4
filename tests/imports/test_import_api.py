"""POST /api/crm/customers/import (multipart CSV), GET /imports/{id}, the rejected rows as
CSV, and GET /customers/{id}/export, run through real RQ workers on real Redis."""

from __future__ import annotations

import io
import json
import os
import time

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Customer, CustomerImport
from webapp.services import activities, customers
from webapp.services.segments import create_segment

from .support import assert_json_error, csv_bytes, read_csv, run_burst_worker


def upload(api, content: bytes, mapping: dict | str | None = None, **extra):
    data = {"file": (io.BytesIO(content), "fans.csv"), **extra}
    if mapping is not None:
        data["mapping"] = mapping if isinstance(mapping, str) else json.dumps(mapping)
    return api.post("/customers/import", data=data, content_type="multipart/form-data")


MIXED = csv_bytes(
    "Email,First name,Seat,Tags",
    "ann@example.com,Ann,A1,vip",
    "broken,Bob,B2,",
    "cy@example.com,Cy,C3,\"vip, press\"",
    "ann@example.com,Ann again,A9,",
)


def test_an_import_runs_in_a_worker_and_reports_counts_and_rejected_rows(api, runner):
    response = upload(api, MIXED)

    assert response.status_code == 202, response.get_json()
    queued = response.get_json()
    assert queued["status"] == "queued"
    assert queued["mapping"] == {"Email": "email", "First name": "first_name", "Seat": "attribute",
                                 "Tags": "tags"}
    assert queued["total_rows"] == 4

    run_burst_worker(runner)
    done = api.get(f"/imports/{queued['id']}").get_json()

    assert (done["status"], done["processed_rows"]) == ("done", 4)
    assert (done["created"], done["updated"], done["rejected"]) == (2, 0, 2)
    rows = read_csv(api.get(done["rejected_csv"].removeprefix("/api/crm")))
    assert rows[0] == ["line", "reason", "Email", "First name", "Seat", "Tags"]
    assert rows[1][0] == "3" and rows[1][1].startswith("email: ") and rows[1][2:] == ["broken", "Bob", "B2", ""]
    assert rows[2] == ["5", "email: duplicate: line 2 of this file has the same email",
                       "ann@example.com", "Ann again", "A9", ""]
    cy = api.get("/customers", query_string={"q": "cy@"}).get_json()["data"][0]
    assert (cy["first_name"], cy["tags"], cy["attributes"]) == ("Cy", ["press", "vip"], {"Seat": "C3"})


def test_a_mapping_sent_with_the_file_is_used(api, runner):
    response = upload(api, MIXED, {"Seat": "ignore", "First name": "last_name"})
    assert response.status_code == 202

    run_burst_worker(runner)

    ann = customers.find_customer(api.tenant.id, email="ann@example.com")
    assert (ann.first_name, ann.last_name, ann.attributes) == (None, "Ann", {})


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"mapping": "{not json"}, "mapping"),
    ({"mapping": "[1, 2]"}, "mapping"),
    ({"mapping": {"Nope": "email"}}, "mapping.Nope"),
    ({"mapping": {"Email": "ignore"}}, "mapping"),
    ({"extra": "x"}, "extra"),
])
def test_bad_mappings_and_fields_are_422s_naming_the_field_and_store_nothing(api, kwargs, field):
    response = upload(api, MIXED, **kwargs)

    assert_json_error(response, 422, field)
    assert db.session.scalar(select(func.count()).select_from(CustomerImport)) == 0


def test_a_missing_empty_or_wrong_kind_of_file_is_refused(api):
    assert_json_error(api.post("/customers/import", data={"mapping": "{}"}, content_type="multipart/form-data"),
                      422, "file")
    assert_json_error(upload(api, b""), 422, "file")
    assert_json_error(api.post("/customers/import", json={"file": "email\na@b.co"}), 415)
    assert db.session.scalar(select(func.count()).select_from(CustomerImport)) == 0


def test_a_form_part_without_a_name_is_a_422_not_a_500(api):
    """Found by Schemathesis: a multipart part whose Content-Disposition has no name."""
    body = (b'--b\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n'
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nemail\na@b.co\r\n--b--\r\n')
    assert_json_error(api.post("/customers/import", data=body, content_type="multipart/form-data; boundary=b"),
                      422, "")
    assert db.session.scalar(select(func.count()).select_from(CustomerImport)) == 0


def test_a_read_only_token_cannot_import(client, tenant_a):
    from webapp.models import Tenant
    from webapp.services.tenants import create_api_token

    _, secret = create_api_token(db.session.get(Tenant, tenant_a.id), "Reports", "viewer")
    db.session.commit()
    response = client.post("/api/crm/customers/import", headers={"Authorization": f"Bearer {secret}"},
                           data={"file": (io.BytesIO(MIXED), "fans.csv")}, content_type="multipart/form-data")

    assert_json_error(response, 403)
    assert db.session.scalar(select(func.count()).select_from(CustomerImport)) == 0


def test_another_tenants_import_is_a_404(api, api_b, runner):
    import_id = upload(api, MIXED).get_json()["id"]

    assert_json_error(api_b.get(f"/imports/{import_id}"), 404)
    assert_json_error(api_b.get(f"/imports/{import_id}/rejected.csv"), 404)


def test_a_failing_job_records_its_reason_on_the_import(api, runner):
    import_id = upload(api, MIXED).get_json()["id"]
    # The job fails for real in the worker: the stored file turned unreadable after upload
    # (a cell beyond the csv module's field size limit).
    db.session.execute(CustomerImport.__table__.update().where(CustomerImport.id == import_id)
                       .values(content=b"email\n" + b"a" * 200_000 + b"\n"))
    db.session.commit()

    run_burst_worker(runner)

    failed = api.get(f"/imports/{import_id}").get_json()
    assert failed["status"] == "failed"
    assert failed["error"].startswith("the import stopped: Error: field larger than field limit")


def test_a_customers_own_data_exports_as_json(api, tenant_a):
    customer, _ = customers.upsert_customer(tenant_a.id, {"email": "ada@example.com", "first_name": "Ada",
                                                          "tags": ["vip"], "attributes": {"seat": "A1"}})
    activities.record_activity(tenant_a.id, "purchase", customer_id=customer.id,
                               properties={"order_total": 42.5, "order_id": "o-1"})
    activities.add_note(tenant_a.id, customer.id, "Prefers aisle seats")
    create_segment(tenant_a.id, "VIPs", [{"type": "tag", "value": "vip"}])

    response = api.get(f"/customers/{customer.id}/export")

    assert response.status_code == 200
    body = response.get_json()
    assert body["customer"]["email"] == "ada@example.com"
    assert body["customer"]["attributes"] == {"seat": "A1"}
    assert body["customer"]["total_spent"] == 42.5
    assert [a["type"] for a in body["activities"]][:2] == ["purchase", "note"]
    assert any(a["type"] == "segment_entered" for a in body["activities"])
    assert [s["segment"] for s in body["segments"]] == ["VIPs"]
    assert body["emails"] == []


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="the 10,000-row import runs on PostgreSQL")
def test_a_ten_thousand_row_import_on_postgresql(api, runner):
    assert db.engine.dialect.name == "postgresql"
    customers.upsert_customer(api.tenant.id, {"email": "fan17@example.com", "first_name": "Before",
                                              "tags": ["old"]})
    lines = ["email,first_name,external_id,total_spent,orders_count,tags,city"]
    for i in range(10_000):
        if i % 500 == 499:
            lines.append(f"broken-{i},Bad,ext-{i},1,1,,Leeds")            # 20 bad emails
        elif i % 1000 == 998:
            lines.append(f"fan{i - 1}@example.com,Dup,dup-{i},1,1,,Leeds")  # 10 duplicates of the row above
        else:
            lines.append(f"fan{i}@example.com,Fan {i},ext-{i},{i % 300}.50,{i % 7},fan,City {i % 40}")
    import_id = upload(api, csv_bytes(*lines)).get_json()["id"]

    started = time.perf_counter()
    run_burst_worker(runner)
    elapsed = time.perf_counter() - started

    done = api.get(f"/imports/{import_id}").get_json()
    assert (done["status"], done["processed_rows"]) == ("done", 10_000)
    assert (done["created"], done["updated"], done["rejected"]) == (9_969, 1, 30)
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 9_970
    fan17 = customers.find_customer(api.tenant.id, email="fan17@example.com")
    assert (fan17.first_name, fan17.external_id, fan17.tags) == ("Fan 17", "ext-17", ["fan", "old"])
    assert len(read_csv(api.get(f"/imports/{import_id}/rejected.csv"))) == 31
    assert elapsed < 60, f"10,000 rows took {elapsed:.1f} s"


def test_customers_and_a_segments_members_export_as_csv(api, api_b, tenant_a):
    customers.upsert_customer(tenant_a.id, {"email": "vip@example.com", "tags": ["vip"], "first_name": "=cmd"})
    customers.upsert_customer(tenant_a.id, {"email": "plain@example.com"})
    segment = create_segment(tenant_a.id, "VIPs", [{"type": "tag", "value": "vip"}])

    everyone = read_csv(api.get("/customers/export.csv"))
    members = read_csv(api.get("/customers/export.csv", query_string={"segment_id": segment.id}))

    assert sorted(row[1] for row in everyone[1:]) == ["plain@example.com", "vip@example.com"]
    assert [(row[1], row[2]) for row in members[1:]] == [("vip@example.com", "'=cmd")]
    # Another tenant's segment is a 404, like a missing one; B's own list has none of A's customers.
    assert_json_error(api_b.get("/customers/export.csv", query_string={"segment_id": segment.id}), 404)
    assert read_csv(api_b.get("/customers/export.csv"))[1:] == []
    assert_json_error(api.get("/customers/export.csv", query_string={"segment_id": "x"}), 422, "segment_id")


def test_a_file_larger_than_the_json_limit_uploads_and_other_bodies_keep_it(api, app):
    """The 1 MiB request limit stays for every JSON body; the CSV upload takes up to the
    import limit (50 MB)."""
    assert app.config["MAX_CONTENT_LENGTH"] < 2 * 1024 * 1024
    rows = [f"fan{i:06d}@example.com,Fan {i},{'x' * 40}" for i in range(40_000)]
    content = csv_bytes("Email,First name,Note", *rows)
    assert len(content) > 2 * 1024 * 1024
    response = upload(api, content)
    assert response.status_code == 202, response.get_data(as_text=True)[:300]
    assert response.get_json()["total_rows"] == 40_000
    too_big_json = api.post("/customers", data=b'{"email": "' + b"a" * (2 * 1024 * 1024) + b'"}',
                            content_type="application/json")
    assert_json_error(too_big_json, 413)
