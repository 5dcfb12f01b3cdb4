"""A fixture world built once per test process, then written back from its rows.

The web sweeps (hostile forms, refused input, CSRF, roles, tenancy: over a thousand tests)
each start from the same world: a tenant with a customer, a segment, campaigns, workflows,
an import, a domain, an image, a team, a form, an event and a webhook. Building it through
the services took about half a second a test. The first test of a process builds it and
keeps the rows it added or changed; each later test, starting from the same tables (every
test starts empty, and ids start again at 1), gets those rows written back in one
transaction. A test that starts elsewhere (another tenant or user made first, say) has a world
of its own.
A world older than MAX_AGE is built again, so the times in it stay recent.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import DateTime, Table, delete, insert, select, text, tuple_, update

from tests.db_state import database_state
from webapp.extensions import db

MAX_AGE = 600.0  # seconds


@dataclass
class _World:
    built: float
    rows: dict[str, list[dict[str, Any]]]
    value: Any
    after_restore: list[Callable[[], None]] = field(default_factory=list)


_WORLDS: dict[tuple, _World] = {}  # by the world's name and the tables it starts from


# Columns that differ between two runs of the same fixtures: times, salts and secrets.
_RANDOM = {("users", "password_hash"), ("api_tokens", "token_hash"), ("api_tokens", "prefix"),
           ("provider_webhook_settings", "key"), ("user_sessions", "token_hash")}


def _start() -> dict[str, str]:
    """What the tables hold, up to times and secrets: a world is written back only over the
    same start (tenant A alone, or with the same team), never over another test's rows."""
    timely = {(t.name, c.name) for t in db.metadata.sorted_tables for c in t.columns
              if isinstance(c.type, DateTime) or isinstance(getattr(c.type, "impl", None), DateTime)}
    return database_state(timely | _RANDOM)


def cached_world(key: str, build: Callable[[], Any],
                 after_restore: Callable[[], None] | None = None) -> Any:
    """build()'s value, and its rows in the database. `after_restore` puts back what the
    world keeps outside the database (files), after the rows are written back."""
    db.session.commit()
    start = _start()
    slot = (key, tuple(sorted(start.items())))
    world = _WORLDS.get(slot)
    if world is not None and time.monotonic() - world.built < MAX_AGE:
        _write_back(world.rows)
        for step in world.after_restore:
            step()
        return copy.deepcopy(world.value)
    before = database_state()
    value = build()
    db.session.commit()
    after = database_state()
    changed = [t for t in db.metadata.sorted_tables if after[t.name] != before[t.name]]
    with db.engine.connect() as conn:
        rows = {t.name: [dict(r._mapping) for r in conn.execute(select(t))] for t in changed}
    _WORLDS[slot] = _World(time.monotonic(), rows, copy.deepcopy(value),
                          [after_restore] if after_restore else [])
    return value


def _write_back(rows: dict[str, list[dict[str, Any]]]) -> None:
    """The world's tables hold exactly its rows again; only rows that differ are updated (a
    world written back over another world's tables, hostile_world over world_a's, mostly finds
    its rows there already)."""
    tables = [t for t in db.metadata.sorted_tables if t.name in rows]
    with db.engine.begin() as conn:
        for table in reversed(tables):  # children first: rows the world does not have go
            keys = [tuple(row[c.name] for c in table.primary_key.columns) for row in rows[table.name]]
            stale = delete(table)
            if keys:
                stale = stale.where(tuple_(*table.primary_key.columns).not_in(keys))
            conn.execute(stale)
        for table in tables:  # parents first: the world's rows, as they were
            # Read now, not before: a trigger may have written rows here (kept counts) while
            # the tables before it were filled.
            pk = [c.name for c in table.primary_key.columns]
            found = {tuple(r._mapping[c] for c in pk): dict(r._mapping) for r in conn.execute(select(table))}
            new, changed = [], []
            for row in rows[table.name]:
                was = found.get(tuple(row[c] for c in pk))
                if was is None:
                    new.append(row)
                elif was != row:
                    changed.append(row)
            if new:
                conn.execute(insert(table), new)
            for row in changed:
                conn.execute(update(table).where(*(table.c[c] == row[c] for c in pk)).values(row))
        _advance_sequences(conn, tables)
    db.session.expire_all()


def _advance_sequences(conn, tables: list[Table]) -> None:
    """Rows written with their ids leave PostgreSQL's sequences behind: move each past its
    table's highest id, all in one statement."""
    if conn.dialect.name != "postgresql":
        return
    parts = [f"SELECT setval(pg_get_serial_sequence('{t.name}', 'id'), m) FROM (SELECT max(id) AS m FROM {t.name}) s "
             "WHERE m IS NOT NULL"
             for t in tables if "id" in t.c and t.c.id.primary_key and t.c.id.autoincrement is not False]
    if parts:
        conn.execute(text(" UNION ALL ".join(parts)))
