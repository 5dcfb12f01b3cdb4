"""Customer CSV imports: upload, column mapping, preview, and the bulk upsert the job runs.

Rows are checked with the customers API's own rules (`clean_customer_data`) and written
in chunks with set-based statements: one lookup of the chunk's emails and external ids,
one multi-row INSERT ... ON CONFLICT DO NOTHING for new customers, one executemany UPDATE
for known ones, one INSERT of tags. A bad row is recorded with its reason and never stops
the rest. Within one file the first row for an email (or external id) wins; later rows
with the same one are rejected as duplicates, naming the line that was imported.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app
from sqlalchemy import String, bindparam, func, literal_column, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.infra.errors import Conflict, DomainError, NotFound, ValidationFailed
from webapp.infra.pagination import Page, keyset_by_id
from webapp.infra.queues import enqueue
from webapp.infra.sql import insert_ignoring_duplicates, savepoint
from webapp.infra.types import utcnow
from webapp.models import Customer, CustomerImport, CustomerImportRejection, CustomerTag
from webapp.services.customers import MAX_ATTRIBUTES, clean_customer_data, upsert_customer

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_COLUMNS = 100
MAX_ROWS = 1_000_000
PREVIEW_ROWS = 10
CHUNK_ROWS = 2000

# Fields a column can fill, in the order the mapping form offers them.
FIELD_TARGETS = ("email", "external_id", "first_name", "last_name", "tags", "total_spent",
                 "orders_count", "timezone", "email_status")
TARGET_LABELS = {"email": "Email", "external_id": "External id", "first_name": "First name",
                 "last_name": "Last name", "tags": "Tags (comma-separated)", "total_spent": "Total spent",
                 "orders_count": "Orders", "timezone": "Timezone", "email_status": "Email status",
                 "attribute": "Attribute", "ignore": "Ignore"}
# Header spellings recognised for each field (compared lower-cased, letters and digits only).
_SYNONYMS = {
    "email": {"email", "emailaddress", "mail", "e-mail", "emailadresse"},
    "external_id": {"externalid", "customerid", "id", "external", "platformid", "userid"},
    "first_name": {"firstname", "first", "givenname", "forename", "vorname", "prenom"},
    "last_name": {"lastname", "last", "surname", "familyname", "nachname", "nom"},
    "tags": {"tags", "tag", "labels", "label"},
    "total_spent": {"totalspent", "spent", "totalspend", "lifetimevalue", "ltv", "revenue", "total"},
    "orders_count": {"orderscount", "orders", "ordercount", "numberoforders", "purchases"},
    "timezone": {"timezone", "tz", "zone"},
    "email_status": {"emailstatus", "status", "subscriptionstatus", "subscription"},
}
_ATTRIBUTE_KEY_RE = re.compile(r"^[^\x00-\x1f]{1,100}$")


# --- reading the file ---------------------------------------------------------------------

def encoding_of(content: bytes) -> str:
    """UTF-8 (with or without a byte-order mark), else Windows-1252, as spreadsheets save.
    Checked a megabyte at a time, so a large file is never decoded whole in memory."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 1 << 20
    try:
        for start in range(0, len(content), step):
            decoder.decode(content[start:start + step], final=False)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8-sig"


def _dialect_of(first_line: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(first_line, delimiters=",;\t|")
    except csv.Error:
        return csv.excel


PREVIEW_BYTES = 256 * 1024


def head(content: bytes, size: int = PREVIEW_BYTES) -> bytes:
    """The file's first complete lines within `size` bytes: enough for a preview, without
    reading a 50 MB upload each time the mapping changes."""
    if len(content) <= size:
        return content
    cut = content.rfind(b"\n", 0, size)
    return content[:cut + 1] if cut > 0 else content[:size]


def read_rows(content: bytes) -> tuple[list[str], Iterator[list[str]]]:
    """The header and an iterator over the data rows (blank lines skipped), decoded as the
    rows are read."""
    encoding = encoding_of(content)
    first_line = head(content, 64 * 1024).split(b"\n", 1)[0].decode(encoding, errors="replace")
    stream = io.TextIOWrapper(io.BytesIO(content), encoding=encoding, errors="replace", newline="")
    reader = csv.reader(stream, dialect=_dialect_of(first_line))
    header = next(reader, None)
    if header is None:
        raise ValidationFailed("file", "is empty: upload a CSV file with a header row")
    return [h.strip() for h in header], (row for row in reader if any(cell.strip() for cell in row))


def _check_header(columns: list[str]) -> None:
    if not any(columns):
        raise ValidationFailed("file", "the first row must name the columns")
    if len(columns) > MAX_COLUMNS:
        raise ValidationFailed("file", f"at most {MAX_COLUMNS} columns")
    seen: set[str] = set()
    for i, name in enumerate(columns):
        if not name:
            raise ValidationFailed("file", f"column {i + 1} has no name in the header row")
        if "\x00" in name or len(name) > 200:
            raise ValidationFailed("file", f"column {i + 1}'s name is not a valid column name")
        if name.lower() in seen:
            raise ValidationFailed("file", f"the column name '{name}' appears twice in the header row")
        seen.add(name.lower())


# --- mapping --------------------------------------------------------------------------------

def guess_target(column: str) -> str:
    """The field a header most likely means; anything unrecognised becomes an attribute."""
    key = re.sub(r"[^a-z0-9]", "", column.lower())
    for target, names in _SYNONYMS.items():
        if key in {re.sub(r"[^a-z0-9]", "", n) for n in names}:
            return target
    return "attribute"


def guess_mapping(columns: list[str]) -> list[str]:
    mapping, used = [], set()
    for column in columns:
        target = guess_target(column)
        if target in FIELD_TARGETS and target in used:
            target = "attribute"  # "Email" and "E-mail" both present: the second is kept as data
        used.add(target)
        mapping.append(target)
    return mapping


def attribute_key(column: str, target: str) -> str:
    return target.split(":", 1)[1] if target.startswith("attribute:") else column


def check_mapping(columns: list[str], mapping: list[str] | dict[str, str] | None) -> list[str]:
    """A complete, valid mapping in column order. A dict maps header names to targets
    (columns it leaves out keep their guess); errors name `mapping.<column>`."""
    if mapping is None:
        targets = guess_mapping(columns)
    elif isinstance(mapping, dict):
        targets = guess_mapping(columns)
        index = {name: i for i, name in enumerate(columns)}
        for name, target in mapping.items():
            if name not in index:
                raise ValidationFailed(f"mapping.{name}", "is not a column of the file")
            if not isinstance(target, str):
                raise ValidationFailed(f"mapping.{name}", "must be a string")
            targets[index[name]] = target
        # A field named explicitly wins over the same field guessed for another column.
        explicit = {index[n] for n in mapping}
        for i, target in enumerate(targets):
            if i not in explicit and target in FIELD_TARGETS and any(
                    targets[j] == target for j in explicit):
                targets[i] = "attribute"
    else:
        targets = list(mapping)
        if len(targets) != len(columns):
            raise ValidationFailed("mapping", f"needs one target for each of the {len(columns)} columns")
    used: dict[str, str] = {}
    keys: dict[str, str] = {}
    for column, target in zip(columns, targets, strict=True):
        where = f"mapping.{column}"
        if target == "ignore":
            continue
        if target == "attribute" or target.startswith("attribute:"):
            key = attribute_key(column, target)
            if not _ATTRIBUTE_KEY_RE.match(key):
                raise ValidationFailed(where, "attribute names are 1-100 characters")
            if key in keys:
                raise ValidationFailed(where, f"the attribute '{key}' is already filled from column "
                                              f"'{keys[key]}'")
            keys[key] = column
            continue
        if target not in FIELD_TARGETS:
            raise ValidationFailed(where, f"'{target}' is not one of {', '.join(FIELD_TARGETS)}, "
                                          "attribute, attribute:<name> or ignore")
        if target in used:
            raise ValidationFailed(where, f"{target} is already filled from column '{used[target]}'")
        used[target] = column
    if len(keys) > MAX_ATTRIBUTES:
        raise ValidationFailed("mapping", f"at most {MAX_ATTRIBUTES} columns can become attributes")
    if "email" not in used and "external_id" not in used:
        raise ValidationFailed("mapping", "map a column to email or external_id to find or create customers")
    return targets


def _split_tags(cell: str) -> list[str]:
    return [t for t in (part.strip() for part in re.split(r"[,;|]", cell)) if t]


def row_data(columns: list[str], targets: list[str], cells: list[str]) -> dict[str, Any]:
    """One CSV row as upsert input (empty cells leave the field alone), checked with the
    customers API's rules. Raises ValidationFailed naming the field."""
    if len(cells) > len(columns) and any(c.strip() for c in cells[len(columns):]):
        raise ValidationFailed("row", f"has {len(cells)} cells but the header has {len(columns)} columns")
    data: dict[str, Any] = {}
    attributes: dict[str, str] = {}
    for column, target, cell in zip(columns, targets, cells, strict=False):
        value = cell.strip()
        if "\x00" in value:
            raise ValidationFailed(target if target in FIELD_TARGETS else column,
                                   "must not contain NUL characters")
        if not value or target == "ignore":
            continue
        if target == "attribute" or target.startswith("attribute:"):
            attributes[attribute_key(column, target)] = value
        elif target == "tags":
            data["tags"] = _split_tags(value)
        elif target == "total_spent":
            data["total_spent"] = _number(value, "total_spent")
        elif target == "orders_count":
            try:
                data["orders_count"] = int(value)
            except ValueError:
                raise ValidationFailed("orders_count", f"'{value[:50]}' is not a whole number") from None
        elif target == "email_status":
            data["email_status"] = value.lower()
        else:
            data[target] = value
    if attributes:
        data["attributes"] = attributes
    return clean_customer_data(data)


def _number(value: str, field_name: str) -> Decimal:
    # Thousands separators and a currency sign, as spreadsheets write them, are accepted.
    text = re.sub(r"[\s$€£,]", "", value)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValidationFailed(field_name, f"'{value[:50]}' is not a number") from None
    if not number.is_finite():
        raise ValidationFailed(field_name, f"'{value[:50]}' is not a number")
    return number


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


@dataclass
class PreviewRow:
    line: int
    values: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    action: str | None = None  # "create" or "update", for rows without an error

    @property
    def others(self) -> list[str]:
        """The values besides email, names, external id and tags, as "Label: value"."""
        shown = [f"{TARGET_LABELS[key]}: {self.values[key]}"
                 for key in ("total_spent", "orders_count", "timezone", "email_status") if key in self.values]
        return shown + [f"{key}: {value}" for key, value in self.values.get("attributes", {}).items()]


def preview(customer_import: CustomerImport, targets: list[str], *, rows: int = PREVIEW_ROWS) -> list[PreviewRow]:
    """The first rows with the mapping applied: the values each field gets and the row's
    error, or whether it would create or update a customer."""
    _, reader = read_rows(head(customer_import.content))
    columns = customer_import.columns
    out: list[PreviewRow] = []
    for line, cells in _numbered(reader):
        if len(out) >= rows:
            break
        try:
            data = row_data(columns, targets, cells)
        except ValidationFailed as exc:
            out.append(PreviewRow(line, error=_reason(exc)))
            continue
        out.append(PreviewRow(line, values=data, action="create" if _existing_id(
            customer_import.tenant_id, data) is None else "update"))
    return out


def _existing_id(tenant_id: int, data: dict[str, Any]) -> int | None:
    conditions = []
    if data.get("external_id") is not None:
        conditions.append(Customer.external_id == data["external_id"])
    if data.get("email"):
        conditions.append(Customer.email == data["email"])
    return db.session.scalar(select(Customer.id).where(Customer.tenant_id == tenant_id, or_(*conditions)).limit(1))


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


# --- running ---------------------------------------------------------------------------------

class LostClaim(Exception):
    """Another worker took the import over (this one was presumed dead)."""


@dataclass
class _Good:
    line: int
    data: dict[str, Any]


@dataclass
class _Bad:
    line: int
    field: str | None
    reason: str
    cells: list[str]


@dataclass
class _Chunk:
    end: int
    good: list[_Good] = field(default_factory=list)
    bad: list[_Bad] = field(default_factory=list)
    cells: dict[int, list[str]] = field(default_factory=dict)


def _numbered(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) with the file's line numbers as a spreadsheet shows them (header = 1)."""
    for i, row in enumerate(reader):
        yield i + 2, row


def _reason(exc: DomainError) -> str:
    return exc.message


def _chunks(customer_import: CustomerImport) -> Iterator[_Chunk]:
    """Validate every row in file order (so duplicates are recognised across chunks) and
    yield chunks of CHUNK_ROWS file rows, with `end` the number of data rows up to it."""
    columns, reader = read_rows(customer_import.content)
    targets = customer_import.mapping
    first_email: dict[str, int] = {}
    first_external: dict[str, int] = {}
    chunk = _Chunk(0)
    for index, (line, cells) in enumerate(_numbered(reader)):
        try:
            data = row_data(columns, targets, cells)
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
            chunk.good.append(_Good(line, data))
            chunk.cells[line] = cells
        chunk.end = index + 1
        if chunk.end % CHUNK_ROWS == 0:
            yield chunk
            chunk = _Chunk(chunk.end)
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
    from webapp.services.segments import calculate_segment, list_segments

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
        with savepoint():
            created, updated, refused = _bulk_upsert(tenant_id, chunk.good)
    except IntegrityError:
        # A concurrent write took an email or external id between our lookup and our
        # statement: redo this chunk row by row, each with the API's own upsert.
        return _row_by_row(tenant_id, chunk, rejected)
    for good, reason_field, reason in refused:
        rejected.append(_Bad(good.line, reason_field, reason, chunk.cells[good.line]))
    rejected.sort(key=lambda bad: bad.line)
    return created, updated, rejected


def _row_by_row(tenant_id: int, chunk: _Chunk, rejected: list[_Bad]) -> tuple[int, int, list[_Bad]]:
    """Each row with the API's own upsert, committed one by one: a refused row rolls back
    (the upsert does so itself on a clash) without undoing the others. A crash here
    redoes the chunk; the upserts are idempotent, though a row created the first time
    then counts as updated."""
    created = updated = 0
    for good in chunk.good:
        try:
            _, was_created = upsert_customer(tenant_id, good.data, commit=False, _retry=False)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            field_name = exc.details[0]["field"] if exc.details else None
            rejected.append(_Bad(good.line, field_name, _reason(exc), chunk.cells[good.line]))
        else:
            created += was_created
            updated += not was_created
    rejected.sort(key=lambda bad: bad.line)
    return created, updated, rejected


def _insert_statement(table):
    module = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(table)


def _bulk_upsert(tenant_id: int, rows: list[_Good]) -> tuple[int, int, list[tuple[_Good, str, str]]]:
    """Match the chunk's rows to customers, then write them; returns (created, updated, refused)."""
    if db.session.get_bind().dialect.name == "postgresql":
        # psycopg prepares statements run often; a generic plan made while the tenant had few
        # customers scans them all once it has many. Plan each chunk's statements afresh.
        db.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    by_email, by_external = _lookup(tenant_id, rows)
    inserts, updates, refused = _resolve(rows, by_email, by_external)
    now = utcnow()
    if db.session.get_bind().dialect.name == "postgresql":
        created = _write_postgres(tenant_id, inserts, updates, now)
    else:
        created = _write_rows(tenant_id, inserts, updates, now)
    return created, len(updates), refused


def _lookup(tenant_id: int, rows: list[_Good]) -> tuple[dict[str, tuple[int, str | None]], dict[str, int]]:
    """The tenant's customers having one of the chunk's emails or external ids: two
    index lookups (an OR of both would scan the tenant's customers)."""
    table = Customer.__table__
    emails = [r.data["email"] for r in rows if r.data.get("email")]
    externals = [r.data["external_id"] for r in rows if r.data.get("external_id") is not None]
    postgres = db.session.get_bind().dialect.name == "postgresql"
    found = []
    for column, values in ((table.c.email, emails), (table.c.external_id, externals)):
        if not values:
            continue
        if postgres:
            # One array parameter: no 2,000-placeholder statement to build and parse per chunk.
            condition = column == func.any(bindparam("values", values, type_=ARRAY(String)))
            found += db.session.execute(select(table.c.id, table.c.email, table.c.external_id)
                                        .where(table.c.tenant_id == tenant_id, condition)).all()
        else:
            for start in range(0, len(values), 500):
                found += db.session.execute(select(table.c.id, table.c.email, table.c.external_id).where(
                    table.c.tenant_id == tenant_id, column.in_(values[start:start + 500]))).all()
    by_email: dict[str, tuple[int, str | None]] = {}
    by_external: dict[str, int] = {}
    for cid, email, external_id in found:
        by_email[email] = (cid, external_id)
        if external_id is not None:
            by_external[external_id] = cid
    return by_email, by_external


def _resolve(rows: list[_Good], by_email: dict[str, tuple[int, str | None]], by_external: dict[str, int]
             ) -> tuple[list[_Good], list[tuple[int, _Good]], list[tuple[_Good, str, str]]]:
    """The API's upsert rules, decided for a chunk at once: found by external_id, else by
    email; an email belonging to a customer with another external_id, or to another
    customer than the external_id's, is refused; no match and no email is refused."""
    refused: list[tuple[_Good, str, str]] = []
    inserts: list[_Good] = []
    updates: list[tuple[int, _Good]] = []
    for row in rows:
        email, external_id = row.data.get("email"), row.data.get("external_id")
        target = by_external.get(external_id) if external_id is not None else None
        if target is None and email:
            found = by_email.get(email)
            if found is not None:
                if external_id is not None and found[1] not in (None, external_id):
                    refused.append((row, "external_id", "external_id: this email belongs to a customer "
                                                        "with another external_id"))
                    continue
                target = found[0]
        if target is None:
            if not email:
                refused.append((row, "email", "email: is required to create a customer"))
            else:
                inserts.append(row)
            continue
        if email and email in by_email and by_email[email][0] != target:
            refused.append((row, "email", "email: another customer already has this email"))
            continue
        updates.append((target, row))
    return inserts, updates, refused


class _ConcurrentInsert(IntegrityError):
    def __init__(self) -> None:
        super().__init__("customer created concurrently", None, Exception("concurrent insert"))


def _write_rows(tenant_id: int, inserts: list[_Good], updates: list[tuple[int, _Good]], now) -> int:
    """SQLite (and any other backend): executemany INSERT ... RETURNING, UPDATE, tags."""
    table = Customer.__table__
    tag_rows: list[dict[str, Any]] = []
    created = 0
    if inserts:
        values = [{"tenant_id": tenant_id, "email": r.data["email"], "external_id": r.data.get("external_id"),
                   "first_name": r.data.get("first_name"), "last_name": r.data.get("last_name"),
                   "timezone": r.data.get("timezone"), "email_status": r.data.get("email_status") or "subscribed",
                   "attributes": r.data["attributes"], "total_spent": r.data.get("total_spent", Decimal("0")),
                   "orders_count": r.data.get("orders_count", 0), "created_at": now, "updated_at": now}
                  for r in inserts]
        by_new_email = {r.data["email"]: r for r in inserts}
        # executemany with RETURNING: SQLAlchemy sends it as multi-row INSERTs ("insertmanyvalues")
        # from one cached statement, instead of compiling a 1,000-row VALUES clause per chunk.
        stmt = _insert_statement(table).on_conflict_do_nothing().returning(table.c.id, table.c.email)
        for cid, email in db.session.execute(stmt, values):
            row = by_new_email.pop(email)
            created += 1
            tag_rows += [{"customer_id": cid, "tenant_id": tenant_id, "tag": t} for t in row.data["tags"]]
        if by_new_email:
            raise _ConcurrentInsert()  # created by someone else since our lookup: row by row instead
    if updates:
        _update_customers(updates, now)
        for cid, row in updates:
            tag_rows += [{"customer_id": cid, "tenant_id": tenant_id, "tag": t} for t in row.data["tags"]]
    if tag_rows:
        db.session.execute(insert_ignoring_duplicates(CustomerTag.__table__), tag_rows)
    return created


STAGE = "customer_import_stage"
_STAGE_COLUMNS = ("line", "target_id", "email", "external_id", "first_name", "last_name", "timezone",
                  "email_status", "total_spent", "orders_count", "attributes", "tags")


def _write_postgres(tenant_id: int, inserts: list[_Good], updates: list[tuple[int, _Good]], now) -> int:
    """PostgreSQL: COPY the decided rows into a temporary table, then one INSERT ... SELECT
    ... ON CONFLICT DO NOTHING, one UPDATE ... FROM and one INSERT of tags, all set-based."""
    db.session.execute(text(
        f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} (line integer PRIMARY KEY, target_id integer, email text, "
        "external_id text, first_name text, last_name text, timezone text, email_status text, "
        "total_spent numeric(14, 2), orders_count integer, attributes jsonb NOT NULL, tags jsonb NOT NULL)"))
    db.session.execute(text(f"TRUNCATE {STAGE}"))
    dbapi = db.session.connection().connection.dbapi_connection
    with dbapi.cursor() as cursor, cursor.copy(f"COPY {STAGE} ({', '.join(_STAGE_COLUMNS)}) FROM STDIN") as copy:
        for target, row in [(None, r) for r in inserts] + updates:
            data = row.data
            copy.write_row((row.line, target, data.get("email"), data.get("external_id"), data.get("first_name"),
                            data.get("last_name"), data.get("timezone"), data.get("email_status"),
                            data.get("total_spent"), data.get("orders_count"),
                            json.dumps(data["attributes"]), json.dumps(data["tags"])))
    db.session.execute(text(f"ANALYZE {STAGE}"))  # a temporary table has no statistics otherwise
    params = {"tenant_id": tenant_id, "now": now}
    if updates:
        db.session.execute(text(
            "UPDATE customers c SET email = coalesce(s.email, c.email), "
            "external_id = coalesce(s.external_id, c.external_id), first_name = coalesce(s.first_name, c.first_name), "
            "last_name = coalesce(s.last_name, c.last_name), timezone = coalesce(s.timezone, c.timezone), "
            "email_status = coalesce(s.email_status, c.email_status), "
            "total_spent = coalesce(s.total_spent, c.total_spent), "
            "orders_count = coalesce(s.orders_count, c.orders_count), "
            "attributes = coalesce(c.attributes, '{}'::jsonb) || s.attributes, updated_at = :now "
            f"FROM {STAGE} s WHERE c.id = s.target_id AND c.tenant_id = :tenant_id"), params)
    if updates:
        db.session.execute(text(
            "INSERT INTO customer_tags (customer_id, tag, tenant_id) "
            f"SELECT DISTINCT s.target_id, t.tag, :tenant_id FROM {STAGE} s "
            "CROSS JOIN LATERAL jsonb_array_elements_text(s.tags) AS t(tag) "
            "WHERE s.target_id IS NOT NULL ON CONFLICT DO NOTHING"), params)
    created = 0
    if inserts:
        # New customers and their tags in one statement: the tags join the RETURNING rows.
        created = db.session.scalar(text(
            "WITH inserted AS ("
            " INSERT INTO customers (tenant_id, email, external_id, first_name, last_name, timezone, email_status,"
            " attributes, total_spent, orders_count, created_at, updated_at)"
            " SELECT :tenant_id, email, external_id, first_name, last_name, timezone,"
            " coalesce(email_status, 'subscribed'), attributes, coalesce(total_spent, 0), coalesce(orders_count, 0),"
            f" :now, :now FROM {STAGE} WHERE target_id IS NULL ORDER BY line"
            " ON CONFLICT DO NOTHING RETURNING id, email), "
            "tagged AS ("
            " INSERT INTO customer_tags (customer_id, tag, tenant_id)"
            " SELECT DISTINCT i.id, t.tag, :tenant_id FROM inserted i"
            f" JOIN {STAGE} s ON s.email = i.email AND s.target_id IS NULL"
            " CROSS JOIN LATERAL jsonb_array_elements_text(s.tags) AS t(tag) ON CONFLICT DO NOTHING) "
            "SELECT count(*) FROM inserted"), params)
        if created != len(inserts):
            raise _ConcurrentInsert()  # created by someone else since our lookup: row by row instead
    db.session.execute(text(f"TRUNCATE {STAGE}"))
    return created


def _update_customers(updates: list[tuple[int, _Good]], now) -> None:
    """One executemany UPDATE: given fields replace, missing ones stay, attributes merge."""
    table = Customer.__table__
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        merged = table.c.attributes.op("||")(bindparam("p_attributes", type_=JSONB))
    else:
        merged = func.json_patch(func.coalesce(table.c.attributes, literal_column("'{}'")),
                                 bindparam("p_attributes"))
    columns = ("email", "external_id", "first_name", "last_name", "timezone", "email_status",
               "total_spent", "orders_count")
    stmt = (update(table).where(table.c.id == bindparam("p_id"))
            .values({**{name: func.coalesce(bindparam(f"p_{name}", type_=table.c[name].type), table.c[name])
                        for name in columns},
                     "attributes": merged, "updated_at": bindparam("p_now", type_=table.c.updated_at.type)}))
    params = []
    for cid, row in updates:
        param = {f"p_{name}": row.data.get(name) for name in columns}
        param.update(p_id=cid, p_now=now,
                     p_attributes=row.data["attributes"] if dialect == "postgresql"
                     else json.dumps(row.data["attributes"]))
        params.append(param)
    db.session.execute(stmt, params)


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
