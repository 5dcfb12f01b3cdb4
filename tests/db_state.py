"""What "the database did not change" means in the tests: a digest of every row of every
table, read in one statement.

The hostile-input sweeps compare the whole database before and after every refused request,
thousands of times a run; a SELECT per table (about seventy) was most of their time on
PostgreSQL. Here each table is folded into one value by the database itself: an md5 of its
rows as text on PostgreSQL, the rows' quoted values on SQLite. Two states are equal exactly
when every table holds the same rows; a difference names the tables that changed.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Table, text

from webapp.extensions import db

_STATEMENTS: dict[tuple[str, frozenset], str] = {}


def _postgres_part(table: Table, skip: set[str]) -> str:
    row = "to_jsonb(r)" + "".join(f" - '{name}'" for name in sorted(skip))
    return (f"(SELECT md5(coalesce(string_agg(x, E'\\n' ORDER BY x), '')) "
            f"FROM (SELECT ({row})::text AS x FROM {table.name} r) s) AS {table.name}")


def _sqlite_part(table: Table, skip: set[str]) -> str:
    values = " || '|' || ".join(f'quote("{c.name}")' for c in table.columns if c.name not in skip) or "''"
    return (f"(SELECT coalesce(group_concat(x, char(10)), '') "
            f"FROM (SELECT {values} AS x FROM {table.name} ORDER BY 1)) AS {table.name}")


def _statement(dialect: str, volatile: frozenset) -> str:
    key = (dialect, volatile)
    if key not in _STATEMENTS:
        part = _postgres_part if dialect == "postgresql" else _sqlite_part
        tables = db.metadata.sorted_tables
        _STATEMENTS[key] = "SELECT " + ",\n".join(
            part(table, {column for name, column in volatile if name == table.name}) for table in tables)
    return _STATEMENTS[key]


def database_state(volatile: Iterable[tuple[str, str]] = ()) -> dict[str, str]:
    """{table: digest of its rows}, read on a fresh connection (nothing cached, and whatever
    the caller's session holds uncommitted is not seen). `volatile` names (table, column)
    pairs left out, such as a token's last-used time."""
    statement = _statement(db.engine.dialect.name, frozenset(volatile))
    with db.engine.connect() as conn:
        row = conn.execute(text(statement)).one()
    return dict(row._mapping)
