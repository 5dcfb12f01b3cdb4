"""Running an import: claim it, check every row in file order, write chunk after chunk
each in its own transaction with the progress, then recalculate the tenant's segments."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from webapp.extensions import db
from webapp.infra.errors import DomainError, NotFound, ValidationFailed
from webapp.infra.sql import in_savepoint_retrying, insert_ignoring_duplicates, lost_to_contention
from webapp.infra.types import utcnow
from webapp.models import CustomerImport, CustomerImportRejection
from webapp.services.consent import Evidence
from webapp.services.customers import upsert_customer
from webapp.services.imports.files import _numbered, read_rows
from webapp.services.imports.lifecycle import _lease
from webapp.services.imports.mapping import _reason, row_data, topics_by_name
from webapp.services.imports.writers import Good, bulk_upsert
from webapp.services.segments import calculate_segment, list_segments

CHUNK_ROWS = 2000
# A chunk the database refuses for contention (a deadlock with an on-sale batch writing the
# same customers) is written again, up to this many times, after a pause of up to
# CONTENTION_PAUSE seconds (growing with each attempt); then the import waits for its resume.
CONTENTION_ATTEMPTS = 5
CONTENTION_PAUSE = 0.25


# --- running ---------------------------------------------------------------------------------

class LostClaim(Exception):
    """Another worker took the import over (this one was presumed dead)."""


@dataclass
class _Bad:
    line: int
    field: str | None
    reason: str
    cells: list[str]


@dataclass
class _Chunk:
    end: int
    good: list[Good] = field(default_factory=list)
    bad: list[_Bad] = field(default_factory=list)
    cells: dict[int, list[str]] = field(default_factory=dict)
    context: str = "import"  # on consent records: which import it came through


def _chunks(customer_import: CustomerImport) -> Iterator[_Chunk]:
    """Validate every row in file order (so duplicates are recognised across chunks) and
    yield chunks of CHUNK_ROWS file rows, with `end` the number of data rows up to it."""
    columns, reader = read_rows(customer_import.content)
    targets = customer_import.mapping
    first_email: dict[str, int] = {}
    first_external: dict[str, int] = {}
    context = f"import of {customer_import.filename}"
    chunk = _Chunk(0, context=context)
    topics = topics_by_name(customer_import.tenant_id)
    for index, (line, cells) in enumerate(_numbered(reader)):
        try:
            data = row_data(columns, targets, cells, topics)
            email, external_id = data.get("email"), data.get("external_id")
            if email and email in first_email:
                raise ValidationFailed("email", f"duplicate: line {first_email[email]} of this file has "
                                                "the same email")
            if external_id is not None and external_id in first_external:
                raise ValidationFailed("external_id", f"duplicate: line {first_external[external_id]} of "
                                                      "this file has the same external_id")
        except ValidationFailed as exc:
            chunk.bad.append(_Bad(line, exc.field, _reason(exc), cells))
        else:
            if email:
                first_email[email] = line
            if external_id is not None:
                first_external[external_id] = line
            chunk.good.append(Good(line, data))
            chunk.cells[line] = cells
        chunk.end = index + 1
        if chunk.end % CHUNK_ROWS == 0:
            yield chunk
            chunk = _Chunk(chunk.end, context=context)
    if chunk.good or chunk.bad or chunk.end == 0:
        yield chunk


def run_import(import_id: int) -> dict[str, int] | None:
    """Run (or resume) an import: claim it, write chunk after chunk, each in its own
    transaction with the progress, then recalculate the tenant's segments once.

    Idempotent: chunks already counted in processed_rows are skipped, so a retry after
    a killed worker continues where the last commit left off. Returns the counts, or
    None if there was nothing to do (finished, or another worker owns it)."""
    token = uuid.uuid4().hex
    now = utcnow()
    claimed = db.session.execute(
        update(CustomerImport).where(CustomerImport.id == import_id, or_(
            CustomerImport.status == "queued",
            (CustomerImport.status == "running") & (CustomerImport.updated_at < now - _lease())))
        .values(status="running", claim_token=token, updated_at=now,
                started_at=func.coalesce(CustomerImport.started_at, now))
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if not claimed:
        return None
    customer_import = db.session.get(CustomerImport, import_id)
    tenant_id = customer_import.tenant_id
    try:
        for chunk in _chunks(customer_import):
            if chunk.end <= customer_import.processed_rows:
                continue
            created, updated, rejected = _write_chunk(tenant_id, chunk)
            _record_rejections(customer_import, rejected)
            _advance(import_id, token, processed_rows=chunk.end, created=created, updated=updated,
                     rejected=len(rejected))
            db.session.commit()
        _recalculate_segments(import_id, token, tenant_id)
        _advance(import_id, token, status="done", finished_at=utcnow(), claim_token=None)
        db.session.commit()
    except LostClaim:
        db.session.rollback()
        return None
    except DBAPIError as exc:
        if not lost_to_contention(exc):
            raise
        # Still refused after every attempt: nothing of this chunk was written. The import goes
        # back to the queue with what it has done, and the periodic resume runs it again from
        # there (imports_to_resume), instead of failing a marketer's import over a busy minute.
        db.session.rollback()
        try:
            _advance(import_id, token, status="queued", claim_token=None)
        except LostClaim:  # another worker has it now
            db.session.rollback()
            return None
        db.session.commit()
        return None
    db.session.refresh(customer_import)
    return {"created": customer_import.created_count, "updated": customer_import.updated_count,
            "rejected": customer_import.rejected_count}


def _advance(import_id: int, token: str, *, created: int = 0, updated: int = 0, rejected: int = 0,
             **values: Any) -> None:
    """Move the import's progress, in the caller's transaction, if this worker still owns it."""
    result = db.session.execute(
        update(CustomerImport).where(CustomerImport.id == import_id, CustomerImport.claim_token == token)
        .values(created_count=CustomerImport.created_count + created,
                updated_count=CustomerImport.updated_count + updated,
                rejected_count=CustomerImport.rejected_count + rejected,
                updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False))
    if not result.rowcount:
        raise LostClaim()


def _recalculate_segments(import_id: int, token: str, tenant_id: int) -> None:
    """Every segment of the tenant, once, set-based (each calculation commits)."""
    for segment_id in [s.id for s in list_segments(tenant_id)]:
        _advance(import_id, token)  # heartbeat: a long recalculation is not a dead worker
        db.session.commit()
        try:
            calculate_segment(tenant_id, segment_id)
        except NotFound:  # deleted meanwhile
            db.session.rollback()


def _record_rejections(customer_import: CustomerImport, rejected: list[_Bad]) -> None:
    if not rejected:
        return
    table = CustomerImportRejection.__table__
    db.session.execute(insert_ignoring_duplicates(table), [
        {"import_id": customer_import.id, "tenant_id": customer_import.tenant_id, "line": bad.line,
         "field": (bad.field or "")[:200] or None, "reason": bad.reason, "values": bad.cells}
        for bad in rejected])


def _write_chunk(tenant_id: int, chunk: _Chunk) -> tuple[int, int, list[_Bad]]:
    """Upsert one chunk's valid rows set-based; returns (created, updated, rejected rows)."""
    rejected = list(chunk.bad)
    if not chunk.good:
        return 0, 0, rejected
    try:
        written, refused = in_savepoint_retrying(lambda: bulk_upsert(tenant_id, chunk.good, chunk.context),
                                                 attempts=CONTENTION_ATTEMPTS, pause=CONTENTION_PAUSE)
    except IntegrityError:
        # A concurrent write took an email or external id between our lookup and our
        # statement: redo this chunk row by row, each with the API's own upsert.
        return _row_by_row(tenant_id, chunk, rejected, chunk.context)
    for good, error in refused:
        rejected.append(_bad(good.line, error, chunk.cells[good.line]))
    rejected.sort(key=lambda bad: bad.line)
    created = sum(new for _, new in written.values())
    return created, len(written) - created, rejected


def _bad(line: int, error: DomainError, cells: list[str]) -> _Bad:
    """A refused row, with the field its error names and the error's message."""
    return _Bad(line, error.details[0]["field"] if error.details else None, _reason(error), cells)


def _row_by_row(tenant_id: int, chunk: _Chunk, rejected: list[_Bad], context: str) -> tuple[int, int, list[_Bad]]:
    """Each row with the API's own upsert, committed one by one: a refused row rolls back
    (the upsert does so itself on a clash) without undoing the others. A crash here
    redoes the chunk; the upserts are idempotent, though a row created the first time
    then counts as updated."""
    created = updated = 0
    for good in chunk.good:
        try:
            _, was_created = upsert_customer(tenant_id, good.data, commit=False, _retry=False,
                                             evidence=Evidence("import", context=context))
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            rejected.append(_bad(good.line, exc, chunk.cells[good.line]))
        else:
            created += was_created
            updated += not was_created
    rejected.sort(key=lambda bad: bad.line)
    return created, updated, rejected
