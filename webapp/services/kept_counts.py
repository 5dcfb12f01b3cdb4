"""Counts kept by database triggers as deltas (segment_reachable_counts, migration 0033;
workflow_enrollment_counts, 0035): on PostgreSQL rows are only inserted, so concurrent
writers never wait for one another on a counter row, and a count is the sum of its rows.
A periodic job folds each key's rows into one, so that sum stays a few rows long. SQLite's
row triggers keep one row per key and need no fold.

On PostgreSQL workflow_enrollment_counts has no foreign keys (migration 0036: a purchase into
fifty workflows checked a hundred): its fold also deletes the rows of deleted workflows."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import text

from webapp.extensions import db


class Kept(NamedTuple):
    keys: tuple[str, ...]  # the key columns; a count is the sum of its key's rows
    value: str  # the value column
    # The table the first key column refers to, where PostgreSQL has no foreign key to delete
    # a parent's rows with it (migration 0036): the fold deletes them.
    unchecked_parent: str | None = None


KEPT = {
    "segment_reachable_counts": Kept(("segment_id",), "reachable"),
    "workflow_enrollment_counts": Kept(("workflow_id", "status"), "enrollments", "automation_workflows"),
}


def _fold_statement(table: str):
    """Every delta row of the keys with more than one, deleted and summed into one row in one
    statement (one snapshot: a row committed meanwhile is either deleted and summed, or left
    for the next run). Concurrent runs each fold the rows they deleted; keys whose rows sum
    to zero need none. Rows whose unchecked parent is gone are deleted and not written back."""
    keys, value, parent = KEPT[table]
    key = ", ".join(keys)
    gone = f"({key}) IN (SELECT {key} FROM {table} GROUP BY {key} HAVING count(*) > 1)"
    kept = ""
    if parent is not None:
        has_parent = f"EXISTS (SELECT 1 FROM {parent} p WHERE p.id = {{row}}.{keys[0]})"
        gone += f" OR NOT {has_parent.format(row=table)}"
        kept = f" WHERE {has_parent.format(row='gone')}"
    return text(f"""
WITH gone AS (
    DELETE FROM {table} WHERE {gone}
    RETURNING {key}, tenant_id, {value}
), written AS (
    INSERT INTO {table} ({key}, tenant_id, {value})
    SELECT {key}, min(tenant_id), sum({value}) FROM gone{kept} GROUP BY {key} HAVING sum({value}) <> 0
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM written)""")


_FOLDS = {table: _fold_statement(table) for table in KEPT}


def fold(table: str) -> int:
    """Fold `table`'s deltas, one row per key (PostgreSQL), and commit: the rows written.

    Then, when it deleted any, VACUUM ANALYZE it: a minute of an on-sale leaves hundreds of
    thousands of deleted rows, and until autovacuum came round the pages read them all (the
    workflows list took 145 ms after a fold of 1.5 million rows, scanning the dead ones), with
    statistics that still counted them. Vacuuming a table of a few live rows takes
    milliseconds (3-22 ms), which a quiet minute, with nothing to fold, does not spend."""
    if db.session.get_bind().dialect.name != "postgresql":
        return 0
    deleted, folded = db.session.execute(_FOLDS[table]).one()
    db.session.commit()
    if deleted:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"VACUUM (ANALYZE) {table}"))
    return folded


def fold_kept_counts() -> dict[str, int]:
    """Every kept count's deltas folded: {table: rows written}."""
    return {table: fold(table) for table in KEPT}
