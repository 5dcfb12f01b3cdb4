"""Counts kept by database triggers as deltas (segment_reachable_counts, migration 0033;
workflow_enrollment_counts, 0035): on PostgreSQL rows are only inserted, so concurrent
writers never wait for one another on a counter row, and a count is the sum of its rows.
A periodic job folds each key's rows into one, so that sum stays a few rows long. SQLite's
row triggers keep one row per key and need no fold.

On PostgreSQL workflow_enrollment_counts has no foreign keys (migration 0036: a purchase into
fifty workflows checked a hundred): the fold also deletes the rows of deleted workflows."""

from __future__ import annotations

from sqlalchemy import text

from webapp.extensions import db

# Table: (its key columns, its value column).
KEPT = {
    "segment_reachable_counts": (("segment_id",), "reachable"),
    "workflow_enrollment_counts": (("workflow_id", "status"), "enrollments"),
}
# Table: (the table its first key column refers to, without a foreign key on PostgreSQL).
_UNCHECKED_PARENT = {"workflow_enrollment_counts": "automation_workflows"}


def _fold_statement(table: str):
    """Every delta row of the keys with more than one, deleted and summed into one row in one
    statement (one snapshot: a row committed meanwhile is either deleted and summed, or left
    for the next run). Concurrent runs each fold the rows they deleted; keys whose rows sum
    to zero need none."""
    keys, value = KEPT[table]
    key = ", ".join(keys)
    return text(f"""
WITH gone AS (
    DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {table} GROUP BY {key} HAVING count(*) > 1)
    RETURNING {key}, tenant_id, {value}
)
INSERT INTO {table} ({key}, tenant_id, {value})
SELECT {key}, min(tenant_id), sum({value}) FROM gone GROUP BY {key} HAVING sum({value}) <> 0""")


_FOLDS = {table: _fold_statement(table) for table in KEPT}
_ORPHANS = {table: text(f"DELETE FROM {table} c WHERE NOT EXISTS "
                        f"(SELECT 1 FROM {parent} p WHERE p.id = c.{KEPT[table][0][0]})")
            for table, parent in _UNCHECKED_PARENT.items()}


def fold(table: str) -> int:
    """Fold `table`'s deltas, one row per key (PostgreSQL), and commit: the rows written.

    Then VACUUM ANALYZE it: a minute of an on-sale leaves hundreds of thousands of deleted
    rows, and until autovacuum came round the pages read them all (the workflows list took
    145 ms after a fold of 1.5 million rows, scanning the dead ones), with statistics that
    still counted them. Vacuuming a table of a few live rows takes milliseconds."""
    if db.session.get_bind().dialect.name != "postgresql":
        return 0
    folded = db.session.execute(_FOLDS[table].execution_options(preserve_rowcount=True)).rowcount
    if table in _ORPHANS:  # a deleted workflow's rows (its enrollments went by cascade)
        db.session.execute(_ORPHANS[table])
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM (ANALYZE) {table}"))
    return folded


def fold_kept_counts() -> dict[str, int]:
    """Every kept count's deltas folded: {table: rows written}."""
    return {table: fold(table) for table in KEPT}
