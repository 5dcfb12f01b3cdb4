"""Small SQL building blocks that differ between SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from sqlalchemy import BigInteger, String, Table, any_, bindparam, event, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import dml as postgresql_dml
from sqlalchemy.dialects.sqlite import dml as sqlite_dml
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from webapp.extensions import db
from webapp.infra.errors import Busy


def dialect() -> str:
    """The session's database: "postgresql" or "sqlite"."""
    return db.session.get_bind().dialect.name


def reads_without_transaction() -> None:
    """For a request that only reads, on PostgreSQL: the session's connection in autocommit
    until it goes back to the pool (SQLAlchemy restores the isolation level then), so the
    request spends no round trip on BEGIN and none on the ROLLBACK that ends it (a timeline
    page through the API 1.98 -> 1.80 ms, faster in 16 of 16 interleaved rounds). Read
    committed gives each statement a snapshot of its own inside a transaction too, so what
    the reads see is the same. A write after it (the token's once-a-minute mark) commits by itself. Call it
    before the session runs anything; it does nothing once a transaction has begun."""
    if dialect() != "postgresql" or db.session().in_transaction():
        return
    db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


# The dialects' own INSERT ... ON CONFLICT opts out of SQLAlchemy's compiled-statement cache
# (its ON CONFLICT clause may name targets and SET values), so every execution compiled the
# statement again. Ours is always a bare DO NOTHING, the same clause every time: cacheable.
class _PostgresDoNothing(postgresql_dml.OnConflictDoNothing):
    inherit_cache = True
    _traverse_internals = []  # no target, no values: the class alone is the cache key


class _PostgresInsert(postgresql_dml.Insert):
    inherit_cache = True


class _SQLiteDoNothing(sqlite_dml.OnConflictDoNothing):
    inherit_cache = True
    _traverse_internals = []


class _SQLiteInsert(sqlite_dml.Insert):
    inherit_cache = True


def insert_ignoring_duplicates(table: Table):
    """INSERT ... ON CONFLICT DO NOTHING (any unique key) for the session's backend, compiled
    once and cached like any statement; its rowcount tells how many rows were new (psycopg
    loses an INSERT's count unless asked to keep it)."""
    if dialect() == "postgresql":
        statement, clause = _PostgresInsert(table), _PostgresDoNothing()
    else:
        statement, clause = _SQLiteInsert(table), _SQLiteDoNothing()
    # What on_conflict_do_nothing() sets, with the cacheable clause.
    statement._post_values_clause = clause
    return statement.execution_options(preserve_rowcount=True)


def run_on_driver(sql: str, params: dict[str, Any]) -> list[tuple]:
    """A statement written out for the driver (psycopg's %(name)s parameters; arrays as
    Python lists), run on the session's connection and transaction through the driver's
    cursor: SQLAlchemy's execution layer has nothing to do for it and cost ~0.1 ms a call on
    the hot paths that use this. Returns its rows ([] when it returns none)."""
    return _run_on_cursor(lambda conn: conn.cursor(), sql, params)


def _run_on_cursor(open_cursor: Any, sql: str | bytes, params: Any) -> list[tuple]:
    """`sql` on a cursor of the session's driver connection, in its transaction. Told to the
    engine's statement listeners first (before_cursor_execute, without an execution
    context), as SQLAlchemy's own execution would: what counts or logs the statements a
    request sends must see these too. The session's pending changes are flushed first, as
    its own execute does (autoflush): the statement must see what the caller changed."""
    session = db.session()
    if session.autoflush:
        session.flush()
    connection = session.connection()
    with open_cursor(connection.connection.driver_connection) as cursor:
        text = sql.decode() if isinstance(sql, bytes) else sql
        connection.dispatch.before_cursor_execute(connection, cursor, text, params, None, False)
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


# psycopg's pyformat placeholders as SQLAlchemy compiles them, and its escaped percent sign.
_PLACEHOLDER = re.compile(r"%%|%\((\w+)\)s")


@dataclass(frozen=True)
class DriverStatement:
    """A statement compiled once into the server's own $n placeholders, with the values
    of the parameters fixed at compile time (already through their types' processing)."""
    sql: bytes
    names: tuple[str, ...]  # the parameter of each $n, in order
    given: dict[str, Any]


def for_driver(statement: Any, **runtime: Any) -> DriverStatement:
    """Compile `statement` for PostgreSQL once, to run many times with run_compiled. The
    parameters named in `runtime` (with a sample value) are given at each run; all others
    keep the values they have now. For long statements with many parameters: psycopg
    rewrites the placeholders of a statement over 4,096 characters or 50 parameters on
    every call, and SQLAlchemy processes every parameter every time."""
    compiled = statement.params(**runtime).compile(dialect=db.engine.dialect,
                                                   compile_kwargs={"render_postcompile": True})
    names: list[str] = []

    def number(match: re.Match) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    sql = _PLACEHOLDER.sub(number, compiled.string)
    processors = compiled._bind_processors
    given = {name: processors[name](value) if name in processors else value
             for name, value in compiled.construct_params().items() if name not in runtime}
    return DriverStatement(sql.encode(), tuple(names), given)


def run_compiled(statement: DriverStatement, **runtime: Any) -> list[tuple]:
    """Run a for_driver statement on the session's connection and transaction through a raw
    cursor: only the parameters are converted on the way. (Not prepared on the server: the
    pool rolls each connection back when a request ends, and psycopg then forgets its
    prepared statements.) Returns its rows."""
    values = [runtime[name] if name in runtime else statement.given[name] for name in statement.names]
    return _run_on_cursor(psycopg.RawCursor, statement.sql, values)


@contextmanager
def savepoint() -> Iterator[None]:
    """`db.session.begin_nested()` that is a savepoint inside the session's transaction on
    SQLite too. Python's sqlite3 opens a transaction only before a data-changing statement,
    not before SAVEPOINT: a savepoint begun before anything was written was the outermost
    transaction, and leaving the block (RELEASE) committed what it wrote, whatever the
    caller did next. So on SQLite the transaction is opened first (after the flush that
    begin_nested would do, which may open it itself), IMMEDIATE: a savepoint is there to
    write, and a deferred transaction that read first was refused its first write at once
    (SQLITE_BUSY_SNAPSHOT) whenever another writer committed in between; this one waits its
    turn for the write lock (the busy timeout) before it reads."""
    session = db.session()
    session.flush()
    connection = session.connection()
    if connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    with session.begin_nested():
        yield


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with the wildcards in it escaped."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# SQLite's automatic checkpoint, held off by delivery between a "sent" commit and the final
# "." of its messages (webapp/services/campaigns/marks.py), and turned back on when the connection goes
# back to the pool should that code never get there (webapp/__init__.py).
SQLITE_AUTOCHECKPOINT = 1000  # pages: SQLite's default
CHECKPOINTS_HELD = "crm_sqlite_checkpoints_held"


def given_rows(name: str, columns: dict[str, Any], dialect: str):
    """A FROM of rows passed in as one parameter (see given_rows_params), reading no table:
    unnest() of one array per column on PostgreSQL, json_each() of a JSON list of rows on
    SQLite. The statement's text stays the same whatever the count, so it is prepared once,
    and its plan has no table to misjudge: a prepared INSERT ... SELECT that looked its rows
    up in automation_enrollments kept the seq scan planned while the table was new and empty."""
    if dialect == "postgresql":
        arrays = [bindparam(f"{name}_{column}", type_=postgresql.ARRAY(kind)) for column, kind in columns.items()]
        return func.unnest(*arrays).table_valued(*columns).render_derived(name=name)
    each = func.json_each(bindparam(name, type_=String())).table_valued("value")
    return select(*(func.json_extract(each.c.value, f"$[{i}]").label(column) for i, column in enumerate(columns))
                  ).select_from(each).subquery(name)


def given_rows_params(name: str, columns: dict[str, Any], rows: list[tuple]) -> dict[str, Any]:
    if dialect() == "postgresql":
        return {f"{name}_{column}": [row[i] for row in rows] for i, column in enumerate(columns)}
    return {name: json.dumps(rows)}


def among(column, name: str, dialect: str, kind: Any = None):
    """`column` is one of the ids bound as `name`: `= ANY(array)` on PostgreSQL (one bound
    value: a statement naming a thousand ids is parsed as fast as one naming ten, and its
    text stays the same), an expanding IN on SQLite."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(kind if kind is not None else BigInteger())))
    return column.in_(bindparam(name, expanding=True))


class HotStatement:
    """A small statement run on every request (the caches' keys, a refresh's row lock): built once;
    on PostgreSQL compiled once for the driver and run through a raw cursor (run_compiled),
    elsewhere executed by the session. Returns plain tuples. The values come as the driver
    gives them on PostgreSQL (no type processing): use it for ints, strings and for moments
    that are only compared with each other."""

    def __init__(self, build: Any, **sample: Any) -> None:
        self._build = build
        self._sample = sample  # each runtime parameter with a value of its kind
        self._statement: Any = None
        self._driver: DriverStatement | None = None

    def statement(self) -> Any:
        """The statement, built on first use."""
        if self._statement is None:
            self._statement = self._build()
        return self._statement

    def rows(self, **params: Any) -> list[tuple]:
        self.statement()
        if dialect() != "postgresql":
            return [tuple(row) for row in db.session.execute(self._statement, params)]
        if self._driver is None:
            self._driver = for_driver(self._statement, **self._sample)
        return run_compiled(self._driver, **params)


# Two transactions waiting on each other (PostgreSQL's deadlock_detected), a serialization
# failure, or SQLite refusing a write to a transaction whose snapshot another writer moved
# past (SQLITE_BUSY_SNAPSHOT, at once: its busy timeout cannot help): none is about the
# request; the loser was rolled back, and running it again from the start succeeds once the
# other has committed.
CONTENTION_SQLSTATES = frozenset({"40P01", "40001"})
CONTENTION_SQLITE = frozenset({"SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_LOCKED"})


def lost_to_contention(exc: BaseException) -> bool:
    """Whether `exc` is a transaction the database rolled back for contention (run it again)."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) in CONTENTION_SQLSTATES \
        or getattr(orig, "sqlite_errorname", None) in CONTENTION_SQLITE


_T = TypeVar("_T")


def _pause_before(attempt: int, pause: float) -> None:
    """A random pause (up to `pause` seconds, growing with each attempt): two writers that
    collided do not collide again in step."""
    time.sleep(random.uniform(pause / 10, pause) * attempt)


def in_savepoint_retrying(work: Callable[[], _T], *, attempts: int, pause: float) -> _T:
    """work() in a savepoint, run again after a pause when the database refused it for
    contention: only the savepoint rolls back, so what the transaction did before stays. The
    last attempt's refusal is raised."""
    attempt = 1
    while True:
        try:
            with savepoint():
                return work()
        except DBAPIError as exc:
            if not lost_to_contention(exc) or attempt >= attempts:
                raise
        _pause_before(attempt, pause)
        attempt += 1


def retrying_transaction(work: Callable[[], _T], *, attempts: int, pause: float, busy: str) -> _T:
    """work(), one transaction that commits at its end, run again from the start after a
    rollback and a pause when the database refused it for contention, as long as none of it
    was committed (a refused transaction leaves nothing: jobs and webhooks wait for the
    commit). Refused every time: rolled back, and Busy(`busy`). A refusal after a commit, or
    any other error, is raised as it is."""
    attempt = 1
    while True:
        commits = commits_so_far()
        try:
            return work()
        except DBAPIError as exc:
            if not lost_to_contention(exc) or commits_so_far() != commits:
                raise
            db.session.rollback()
            if attempt >= attempts:
                raise Busy(busy) from None
        _pause_before(attempt, pause)
        attempt += 1


_COMMITS = "crm_commits"


@event.listens_for(Session, "after_commit")
def _count_commit(session: Session) -> None:
    # The event fires for a savepoint's release too (the nested transaction is still the
    # session's while it runs): only what the database made durable counts.
    if not session.in_nested_transaction():
        session.info[_COMMITS] = session.info.get(_COMMITS, 0) + 1


def commits_so_far() -> int:
    """How many transactions the session has committed: a caller that would run work again
    after a rollback checks that none of it was committed meanwhile."""
    return db.session().info.get(_COMMITS, 0)

