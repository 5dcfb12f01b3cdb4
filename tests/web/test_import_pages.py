"""The import pages: upload, map columns with a live preview, start, progress, summary."""

from __future__ import annotations

import io
import re

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import CustomerImport
from webapp.services.customers import find_customer

from .conftest import HX
from .pages import field_errors

FANS = (b"E-mail,First name,Seat,Tags\n"
        b"ann@example.com,Ann,A1,vip\n"
        b"not-an-email,<b>Bob</b>,B2,\n"
        b"cy@example.com,Cy,C3,\n"
        b"ann@example.com,Ann twice,A4,\n")


def upload(marketer, content: bytes = FANS, filename: str = "fans.csv"):
    return marketer.post("/customers/import", {"file": (io.BytesIO(content), filename)})


def only_import() -> CustomerImport:
    return db.session.scalars(select(CustomerImport)).one()


def run_worker(runner) -> None:
    db.session.commit()
    result = runner.invoke(args=["crm", "worker", "--burst", "--no-scheduler"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()


def test_the_customers_page_links_to_import_and_export(owner_a, viewer_a, world_a):
    html = owner_a.get("/customers/").get_data(as_text=True)
    assert 'href="/customers/import"' in html
    assert 'href="/customers/export.csv"' in html

    viewer_html = viewer_a.get("/customers/").get_data(as_text=True)
    assert 'href="/customers/import"' not in viewer_html
    assert viewer_a.get("/customers/import").status_code == 403


def test_the_upload_page_explains_what_to_do_when_nothing_was_imported_yet(owner_a):
    html = owner_a.get("/customers/import").get_data(as_text=True)

    assert "No imports yet" in html
    assert 'enctype="multipart/form-data"' in html


def test_uploading_shows_the_guessed_mapping_and_a_preview_with_row_errors(owner_a):
    response = upload(owner_a)
    assert response.status_code == 302
    customer_import = only_import()
    assert response.headers["Location"].endswith(f"/customers/imports/{customer_import.id}")

    html = owner_a.get(f"/customers/imports/{customer_import.id}").get_data(as_text=True)

    assert re.search(r'name="map-0".*?<option value="email" selected>', html, re.S)
    assert re.search(r'name="map-2".*?<option value="attribute" selected>Attribute “Seat”', html, re.S)
    assert "Rejected: email: " in html  # line 3's address
    assert "<b>Bob</b>" not in html
    assert "New customer" in html and "4 rows" in html


def test_changing_the_mapping_refreshes_the_preview(owner_a):
    upload(owner_a)
    import_id = only_import().id

    response = owner_a.hx_post(f"/customers/imports/{import_id}/preview",
                               {"map-0": "email", "map-1": "last_name", "map-2": "ignore", "map-3": "tags"})

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="import-preview">')
    assert "A1" not in html  # the ignored column is gone from the preview


def test_a_mapping_without_email_or_external_id_is_refused_and_nothing_starts(owner_a):
    upload(owner_a)
    import_id = only_import().id

    response = owner_a.post(f"/customers/imports/{import_id}/start",
                            {"map-0": "attribute", "map-1": "first_name", "map-2": "attribute", "map-3": "tags"})

    assert response.status_code == 422
    assert "map a column to email or external_id" in response.get_data(as_text=True)
    assert only_import().status == "uploaded"


def test_a_field_mapped_twice_is_flagged_beside_the_column(owner_a):
    upload(owner_a)
    import_id = only_import().id

    response = owner_a.post(f"/customers/imports/{import_id}/start",
                            {"map-0": "email", "map-1": "email", "map-2": "attribute", "map-3": "tags"})

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'name="map-1" id="map-1" aria-invalid="true".*?field-error">email is already filled '
                     r"from column &#39;E-mail&#39;", html, re.S)


def test_an_unusable_file_gets_its_reason_beside_the_file_field(owner_a):
    response = upload(owner_a, b"email,name,Email\n")

    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True))["file"] == [
        "the column name 'Email' appears twice in the header row"]
    assert db.session.scalar(select(func.count()).select_from(CustomerImport)) == 0


def test_starting_runs_the_import_with_progress_then_a_summary_and_rejected_rows(owner_a, runner, tenant_a):
    upload(owner_a)
    import_id = only_import().id

    response = owner_a.post(f"/customers/imports/{import_id}/start",
                            {"map-0": "email", "map-1": "first_name", "map-2": "attribute", "map-3": "tags"})
    assert response.status_code == 302
    waiting = owner_a.get(f"/customers/imports/{import_id}").get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in waiting and "Waiting for a worker" in waiting

    run_worker(runner)
    partial = owner_a.get(f"/customers/imports/{import_id}/progress", headers=HX).get_data(as_text=True)

    assert "hx-trigger" not in partial  # finished: the polling stops
    assert "Import finished" in partial
    counts = dict(re.findall(r'data-testid="import-(\w+)">([^<]+)<', partial))
    assert counts == {"rows": "4 / 4", "created": "2", "updated": "0", "rejected": "2"}
    assert f'href="/customers/imports/{import_id}/rejected.csv"' in partial
    rejected = owner_a.get(f"/customers/imports/{import_id}/rejected.csv").get_data(as_text=True)
    assert rejected.splitlines()[0] == "line,reason,E-mail,First name,Seat,Tags"
    assert rejected.splitlines()[2] == ("5,email: duplicate: line 2 of this file has the same email,"
                                        "ann@example.com,Ann twice,A4,")
    assert find_customer(tenant_a.id, email="cy@example.com").attributes == {"Seat": "C3"}


def test_an_import_cannot_be_started_twice(owner_a, runner):
    upload(owner_a)
    import_id = only_import().id
    mapping = {"map-0": "email", "map-1": "first_name", "map-2": "attribute", "map-3": "tags"}
    owner_a.post(f"/customers/imports/{import_id}/start", mapping)

    again = owner_a.post(f"/customers/imports/{import_id}/start", mapping)

    assert again.status_code == 302  # back to the progress of the one run
    run_worker(runner)
    assert (only_import().created_count, only_import().rejected_count) == (2, 2)


def test_column_names_and_cells_from_the_file_are_escaped(owner_a):
    upload(owner_a, b'email,<img src=x onerror=alert(1)>\n"<script>alert(1)</script>@x.com",<i>x</i>\n')

    html = owner_a.get(f"/customers/imports/{only_import().id}").get_data(as_text=True)

    assert "<img src=x" not in html and "<script>alert(1)" not in html and "<i>x</i>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_the_import_pages_sit_under_customers_in_the_navigation(owner_a):
    html = owner_a.get("/customers/import").get_data(as_text=True)

    assert re.search(r'<a href="/customers/" class="active"[^>]*>Customers</a>', html)


def test_an_import_paused_by_a_busy_database_says_it_carries_on_by_itself(owner_a, tenant_a, monkeypatch,
                                                                         refusing_customer_writes):
    """A chunk refused for contention every time puts the import back in the queue with its
    progress (services/imports/runner.py): the page says so instead of "waiting for a worker"."""
    from webapp.services import imports
    from webapp.services.customers import upsert_customer
    from webapp.services.imports import runner

    monkeypatch.setattr(runner, "CHUNK_ROWS", 2)
    monkeypatch.setattr(runner, "CONTENTION_PAUSE", 0.01)
    upsert_customer(tenant_a.id, {"email": "cy@example.com"})
    upload(owner_a)
    import_id = only_import().id
    owner_a.post(f"/customers/imports/{import_id}/start",
                 {"map-0": "email", "map-1": "first_name", "map-2": "attribute", "map-3": "tags"})
    refusing_customer_writes(runner.CONTENTION_ATTEMPTS, email="cy@example.com")  # the second chunk's update
    assert imports.run_import(import_id) is None

    partial = owner_a.get(f"/customers/imports/{import_id}/progress", headers=HX).get_data(as_text=True)

    assert 'hx-trigger="every 1s"' in partial  # still polling: it is not finished
    paused = re.search(r'data-testid="import-paused">([^<]+)<', partial).group(1)
    assert paused.startswith("Paused after 2 rows: other changes to the same customers kept the database busy.")
    assert "Waiting for a worker" not in partial and "Import failed" not in partial
    assert "Import paused" in partial
    listed = owner_a.get("/customers/import").get_data(as_text=True)
    assert re.search(r'fans\.csv</a></td>\s*<td><span class="status status-queued">paused</span>', listed)
