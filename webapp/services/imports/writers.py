"""The bulk writers: one chunk of checked rows matched to the tenant's customers and
written set-based (executemany on SQLite, COPY into a staging table on PostgreSQL)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import String, bindparam, func, literal_column, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.infra.errors import DomainError
from webapp.infra.sql import insert_ignoring_duplicates
from webapp.infra.types import utcnow
from webapp.models import Customer, CustomerTag
from webapp.services import webhooks
from webapp.services.customers import email_required, external_id_mismatch, taken
from webapp.services.imports import consent_rows
from webapp.services.webhooks import customer_refs


@dataclass
class Good:
    line: int
    data: dict[str, Any]


def _insert_statement(table):
    module = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(table)


def bulk_upsert(tenant_id: int, rows: list[Good], context: str = "import", source: str = "import"
                ) -> tuple[dict[int, tuple[int, bool]], list[tuple[Good, DomainError]]]:
    """Match the chunk's rows to customers, then write them and the consent they carry;
    returns ({line: (customer id, created?)} of the rows written, [(row, why refused)]).
    `source` is what customer.created webhooks say the customers came through."""
    if db.session.get_bind().dialect.name == "postgresql":
        # psycopg prepares statements run often; a generic plan made while the tenant had few
        # customers scans them all once it has many. Plan each chunk's statements afresh.
        db.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    by_email, by_external = _lookup(tenant_id, rows)
    inserts, updates, refused = _resolve(rows, by_email, by_external)
    # New customers inserted in email order, as the activities batch does: two writers creating
    # the same ones wait on each other's unique entries in one order, never in a circle. (The
    # customers batch locks the ones it updates first; an import does not: locking every row
    # before its UPDATE made a re-import of 100,000 customers take 46 s instead of 16.)
    inserts.sort(key=lambda row: row.data["email"])
    now = utcnow()
    pending = consent_rows.before_write(tenant_id, updates, inserts)
    if db.session.get_bind().dialect.name == "postgresql":
        created = _write_postgres(tenant_id, inserts, updates, now)
    else:
        created = _write_rows(tenant_id, inserts, updates, now)
    consent_rows.after_write(tenant_id, pending, context, now)
    if created:
        webhooks.emit_many(tenant_id, "customer.created", lambda: _created_payloads(tenant_id, created, source))
    written = {row.line: (cid, False) for cid, row in updates}
    written.update((row.line, (created[row.data["email"]], True)) for row in inserts)
    return written, refused


def _created_payloads(tenant_id: int, created: dict[str, int], source: str) -> list[dict[str, Any]]:
    """customer.created for the chunk's new customers (ids by email, as the write returned them)."""
    return [{"customer": ref, "source": source} for ref in customer_refs(tenant_id, created.values()).values()]


def _lookup(tenant_id: int, rows: list[Good]) -> tuple[dict[str, tuple[int, str | None]], dict[str, int]]:
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


def _resolve(rows: list[Good], by_email: dict[str, tuple[int, str | None]], by_external: dict[str, int]
             ) -> tuple[list[Good], list[tuple[int, Good]], list[tuple[Good, DomainError]]]:
    """The API's upsert rules, decided for a chunk at once: found by external_id, else by
    email; an email belonging to a customer with another external_id, or to another
    customer than the external_id's, is refused; no match and no email is refused."""
    refused: list[tuple[Good, DomainError]] = []
    inserts: list[Good] = []
    updates: list[tuple[int, Good]] = []
    for row in rows:
        email, external_id = row.data.get("email"), row.data.get("external_id")
        target = by_external.get(external_id) if external_id is not None else None
        if target is None and email:
            found = by_email.get(email)
            if found is not None:
                if external_id is not None and found[1] not in (None, external_id):
                    refused.append((row, external_id_mismatch()))
                    continue
                target = found[0]
        if target is None:
            if not email:
                refused.append((row, email_required()))
            else:
                inserts.append(row)
            continue
        if email and email in by_email and by_email[email][0] != target:
            refused.append((row, taken("email")))
            continue
        updates.append((target, row))
    return inserts, updates, refused


class _ConcurrentInsert(IntegrityError):
    def __init__(self) -> None:
        super().__init__("customer created concurrently", None, Exception("concurrent insert"))


def _write_rows(tenant_id: int, inserts: list[Good], updates: list[tuple[int, Good]], now) -> dict[str, int]:
    """SQLite (and any other backend): executemany INSERT ... RETURNING, UPDATE, tags; the
    new customers' ids by email."""
    table = Customer.__table__
    tag_rows: list[dict[str, Any]] = []
    created: dict[str, int] = {}
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
            created[email] = cid
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


def _write_postgres(tenant_id: int, inserts: list[Good], updates: list[tuple[int, Good]], now) -> dict[str, int]:
    """PostgreSQL: COPY the decided rows into a temporary table, then one INSERT ... SELECT
    ... ON CONFLICT DO NOTHING, one UPDATE ... FROM and one INSERT of tags, all set-based;
    the new customers' ids by email."""
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
    created: dict[str, int] = {}
    if inserts:
        # New customers and their tags in one statement: the tags join the RETURNING rows.
        created = dict(db.session.execute(text(
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
            "SELECT email, id FROM inserted"), params).all())
        if len(created) != len(inserts):
            raise _ConcurrentInsert()  # created by someone else since our lookup: row by row instead
    db.session.execute(text(f"TRUNCATE {STAGE}"))
    return created


def _update_customers(updates: list[tuple[int, Good]], now) -> None:
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
