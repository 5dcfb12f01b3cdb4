"""An import's life: upload, mapping, start, the job queued by name, failure, resumption,
and the rejected rows read back."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update

from webapp.extensions import db
from webapp.infra.errors import Conflict, NotFound, ValidationFailed
from webapp.infra.pagination import Page, keyset_by_id
from webapp.infra.queues import enqueue
from webapp.infra.types import utcnow
from webapp.models import CustomerImport, CustomerImportRejection
from webapp.services.imports.files import _check_header, read_rows
from webapp.services.imports.mapping import check_mapping, guess_mapping

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ROWS = 1_000_000


# --- imports: create, read, start -------------------------------------------------------------

def create_import(tenant_id: int, filename: str, content: bytes, *, created_by: str | None = None,
                  source: str = "web", start: bool = False,
                  mapping: list[str] | dict[str, str] | None = None) -> CustomerImport:
    """Store an uploaded CSV with its header and a guessed mapping (status `uploaded`);
    with start=True, check `mapping` too and queue the job at once (nothing is stored if
    the file or the mapping is refused)."""
    if not content:
        raise ValidationFailed("file", "is empty: upload a CSV file with a header row")
    if len(content) > MAX_FILE_BYTES:
        raise ValidationFailed("file", f"is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB: split it")
    if b"\x00" in content[:4096]:
        raise ValidationFailed("file", "is not a CSV text file")
    try:
        columns, rows = read_rows(content)
        _check_header(columns)
        total = 0
        for _ in rows:
            total += 1
            if total > MAX_ROWS:
                raise ValidationFailed("file", f"has more than {MAX_ROWS:,} rows: split it")
    except csv.Error as exc:
        raise ValidationFailed("file", f"is not a readable CSV file ({exc})") from None
    name = (filename or "customers.csv").replace("\x00", "").strip()[-255:] or "customers.csv"
    targets = check_mapping(columns, mapping) if start else guess_mapping(columns)
    customer_import = CustomerImport(tenant_id=tenant_id, filename=name, content=content, columns=columns,
                                     mapping=targets, status="queued" if start else "uploaded",
                                     source=source, created_by=created_by, total_rows=total)
    db.session.add(customer_import)
    db.session.commit()
    if start:
        enqueue_import(customer_import.id)
    return customer_import


def get_import(tenant_id: int, import_id: int) -> CustomerImport:
    found = db.session.scalar(select(CustomerImport).where(CustomerImport.id == import_id,
                                                           CustomerImport.tenant_id == tenant_id))
    if found is None:
        raise NotFound("import not found")
    return found


def imports_page(tenant_id: int, *, limit: int = 20, cursor: str | None = None) -> Page:
    stmt = select(CustomerImport).where(CustomerImport.tenant_id == tenant_id)
    return keyset_by_id(stmt, CustomerImport.id, limit=limit, cursor=cursor)


def start_import(tenant_id: int, import_id: int, mapping: list[str] | dict[str, str] | None) -> CustomerImport:
    """Save the mapping and queue the job; only an import still waiting for its mapping starts."""
    customer_import = get_import(tenant_id, import_id)
    if customer_import.status != "uploaded":
        raise Conflict(f"this import is already {customer_import.status}")
    customer_import.mapping = check_mapping(customer_import.columns, mapping)
    customer_import.status = "queued"
    customer_import.updated_at = utcnow()
    db.session.commit()
    enqueue_import(customer_import.id)
    return customer_import


def enqueue_import(import_id: int) -> None:
    """Queue the job (its id is per import, so enqueueing twice runs it once at a time)."""
    enqueue("imports.run_import_job", import_id, queue="bulk", job_id=f"customer-import-{import_id}",
            job_timeout=IMPORT_JOB_TIMEOUT, result_ttl=600, failure_ttl=86400,
            on_failure="imports.mark_import_failed")


IMPORT_JOB_TIMEOUT = 3600


def _lease() -> timedelta:
    return timedelta(seconds=int(current_app.config.get("IMPORT_LEASE_SECONDS", 300)))


def imports_to_resume(now=None) -> list[int]:
    """Imports whose job was lost: queued for a minute, or running with no progress for a lease."""
    now = now or utcnow()
    return list(db.session.scalars(select(CustomerImport.id).where(or_(
        (CustomerImport.status == "queued") & (CustomerImport.updated_at < now - timedelta(minutes=1)),
        (CustomerImport.status == "running") & (CustomerImport.updated_at < now - _lease())))))


def fail_import(import_id: int, reason: str) -> None:
    """Record why the job failed on the import (rows written so far stay written)."""
    db.session.rollback()
    db.session.execute(update(CustomerImport).where(CustomerImport.id == import_id,
                                                    CustomerImport.status.in_(("queued", "running")))
                       .values(status="failed", error=reason[:2000], finished_at=utcnow(),
                               updated_at=utcnow(), claim_token=None))
    db.session.commit()


# --- the rejected rows, as the file had them -------------------------------------------------

def rejected_rows(tenant_id: int, import_id: int) -> tuple[list[str], Iterator[list[Any]]]:
    """(header, rows) of the rejected rows with their line and reason, in keyset batches."""
    customer_import = get_import(tenant_id, import_id)
    header = ["line", "reason", *customer_import.columns]
    import_id = customer_import.id  # the generator runs later, in another session

    def rows() -> Iterator[list[Any]]:
        after = 0
        while True:
            batch = db.session.execute(
                select(CustomerImportRejection.line, CustomerImportRejection.reason, CustomerImportRejection.values)
                .where(CustomerImportRejection.import_id == import_id, CustomerImportRejection.line > after)
                .order_by(CustomerImportRejection.line).limit(1000)).all()
            if not batch:
                return
            for line, reason, values in batch:
                yield [line, reason, *values]
            after = batch[-1][0]

    return header, rows()
