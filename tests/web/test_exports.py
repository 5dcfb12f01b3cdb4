"""CSV exports from the pages: customers, a segment's members, a campaign's recipients and
one customer's own data; streamed in batches, with formulas neutralised in every cell."""

from __future__ import annotations

import csv
import io

from sqlalchemy import delete

from webapp.extensions import db
from webapp.models import Customer, CustomerTag
from webapp.services import exports
from webapp.services.campaigns import snapshot_recipients
from webapp.services.imports import create_import, run_import, start_import

from .conftest import make_customer


def rows_of(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


HOSTILE = {
    "first_name": "=HYPERLINK(\"http://evil.example\",\"click\")",
    "last_name": "+1+2",
    "attributes": {"a": "@SUM(A1:A9)", "b": "-3+3", "c": "\tcmd", "d": "\rcmd", "safe": "plain text"},
}


def test_csv_cell_neutralises_every_formula_start():
    for value in ("=1+1", "+1", "-1", "@A1", "\t=1", "\r=1"):
        assert exports.csv_cell(value) == "'" + value
    assert exports.csv_cell("a=1") == "a=1"
    assert exports.csv_cell(None) == ""
    assert exports.csv_cell({"k": "=x"}) == '{"k": "=x"}'


def test_the_customer_export_has_every_customer_with_tags_and_neutralised_cells(owner_a, tenant_a, tenant_b):
    make_customer(tenant_a.id, "ada@example.com", tags=["vip", "press"], **HOSTILE)
    make_customer(tenant_a.id, "bob@example.com")
    make_customer(tenant_b.id, "other@bravo.example.com")

    rows = rows_of(owner_a.get("/customers/export.csv"))

    assert rows[0] == exports.CUSTOMER_HEADER
    by_email = {row[1]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert set(by_email) == {"ada@example.com", "bob@example.com"}
    ada = by_email["ada@example.com"]
    assert ada["first_name"] == "'" + HOSTILE["first_name"]
    assert ada["last_name"] == "'+1+2"
    assert ada["tags"] == "press, vip"
    assert ada["total_spent"] == "0.00"
    # The attributes cell starts with "{", so it is not a formula; values stay as stored.
    assert ada["attributes"].startswith("{") and "@SUM(A1:A9)" in ada["attributes"]


def test_a_segment_export_has_only_its_members(owner_a, world_a, tenant_a):
    make_customer(tenant_a.id, "notvip@example.com")

    rows = rows_of(owner_a.get(f"/segments/{world_a['segment_id']}/members.csv"))

    assert [row[1] for row in rows[1:]] == ["ada@example.com"]
    html = owner_a.get(f"/segments/{world_a['segment_id']}").get_data(as_text=True)
    assert f'href="/segments/{world_a["segment_id"]}/members.csv"' in html


def test_a_campaigns_recipients_export_with_their_status(owner_a, world_a):
    from webapp.models import EmailCampaign

    campaign = db.session.get(EmailCampaign, world_a["campaign_id"])
    campaign.status = "sending"
    db.session.commit()
    snapshot_recipients(campaign.id)

    rows = rows_of(owner_a.get(f"/campaigns/{campaign.id}/recipients.csv"))

    assert rows[0] == [name for name, _ in exports.RECIPIENT_COLUMNS]
    assert [dict(zip(rows[0], row, strict=True))["email"] for row in rows[1:]] == ["ada@example.com"]
    assert dict(zip(rows[0], rows[1], strict=True))["status"] == "pending"
    html = owner_a.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert f'href="/campaigns/{campaign.id}/recipients.csv"' in html


def test_a_customers_own_data_has_profile_activities_and_segments(owner_a, world_a):
    customer_id = world_a["customer_id"]

    rows = rows_of(owner_a.get(f"/customers/{customer_id}/export.csv"))

    assert rows[0] == exports.CUSTOMER_DATA_HEADER
    records = [row[0] for row in rows[1:]]
    profile = {row[4]: row[5] for row in rows[1:] if row[0] == "customer"}
    assert profile["email"] == "ada@example.com" and profile["tags"] == "vip"
    assert profile["total_spent"] == "80.00"
    assert {"note", "purchase", "segment_entered"} <= {row[2] for row in rows[1:] if row[0] == "activity"}
    assert ["segment", "VIPs"] == [rows[records.index("segment") + 1][0], rows[records.index("segment") + 1][5]]
    html = owner_a.get(f"/customers/{customer_id}").get_data(as_text=True)
    assert f'href="/customers/{customer_id}/export.csv"' in html


def test_viewers_may_download_exports(viewer_a, world_a):
    assert viewer_a.get("/customers/export.csv").status_code == 200
    assert viewer_a.get(f"/customers/{world_a['customer_id']}/export.csv").status_code == 200


def test_rejected_rows_are_neutralised_too(owner_a, tenant_a):
    customer_import = create_import(tenant_a.id, "evil.csv", b"email,note\n=cmd|' /C calc'!A0,@SUM(1)\n")
    start_import(tenant_a.id, customer_import.id, None)
    run_import(customer_import.id)

    rows = rows_of(owner_a.get(f"/customers/imports/{customer_import.id}/rejected.csv"))

    assert rows[1][2:] == ["'=cmd|' /C calc'!A0", "'@SUM(1)"]


def test_exports_read_the_database_in_batches_while_streaming(tenant_a, monkeypatch):
    """Nothing is read ahead: rows deleted after the first piece went out are not exported,
    so the export never holds more than a batch of rows."""
    monkeypatch.setattr(exports, "BATCH", 2)
    for i in range(6):
        make_customer(tenant_a.id, f"fan{i}@example.com")
    stream = exports.csv_stream(exports.CUSTOMER_HEADER, exports._customer_rows(tenant_a.id, None), batch=2)

    first = next(stream)
    db.session.execute(delete(CustomerTag))
    db.session.execute(delete(Customer).where(Customer.email.in_(["fan4@example.com", "fan5@example.com"])))
    db.session.commit()
    rest = list(stream)

    assert len(rest) >= 2  # more pieces followed the first
    emails = [row[1] for row in csv.reader(io.StringIO(first + "".join(rest)))][1:]
    assert emails == ["fan0@example.com", "fan1@example.com", "fan2@example.com", "fan3@example.com"]
