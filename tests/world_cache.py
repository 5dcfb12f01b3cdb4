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

from sqlalchemy import DateTime, Table, delete, func, insert, select, text, tuple_, update

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
    tables = [t for t in db.metadata.sorted_tables if t.name in rows]
    with db.engine.begin() as conn:
        for table in reversed(tables):  # children first: rows the world does not have go
            keys = [tuple(row[c.name] for c in table.primary_key.columns) for row in rows[table.name]]
            stale = delete(table)
            if keys:
                stale = stale.where(tuple_(*table.primary_key.columns).not_in(keys))
            conn.execute(stale)
        for table in tables:  # parents first: the world's rows, as they were
            present = {tuple(r) for r in conn.execute(select(*table.primary_key.columns))}
            pk = [c.name for c in table.primary_key.columns]
            new = [row for row in rows[table.name] if tuple(row[c] for c in pk) not in present]
            if new:
                conn.execute(insert(table), new)
            for row in rows[table.name]:
                if tuple(row[c] for c in pk) in present:
                    conn.execute(update(table).where(*(table.c[c] == row[c] for c in pk)).values(row))
            _advance_sequence(conn, table)
    db.session.expire_all()


def _advance_sequence(conn, table: Table) -> None:
    """Rows written with their ids leave PostgreSQL's sequence behind: move it past them."""
    if conn.dialect.name != "postgresql" or "id" not in table.c or not table.c.id.primary_key:
        return
    highest = conn.execute(select(func.max(table.c.id))).scalar()
    if highest is not None:
        conn.execute(text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :n)"), {"t": table.name, "n": highest})
