"""Bulk loading of plain tuples: COPY on PostgreSQL, executemany on SQLite.

Both go through the session's own connection, so the rows join the session's
transaction and `db.session.commit()` commits them. The ORM is bypassed on purpose:
building millions of objects costs far more than the database spends storing the rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from webapp.services.rollups import rebuild_rollups


class BulkLoader:
    """Writes rows into one table at a time and hands out customer ids ahead of the insert."""

    dialect = ""
    # What follows the time of day in a stored timestamp (see `stamp`).
    suffix = ""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._days: dict[int, str] = {}

    @staticmethod
    def for_session(session: Session) -> BulkLoader:
        name = session.get_bind().dialect.name
        if name == "postgresql":
            return PostgresLoader(session)
        if name == "sqlite":
            return SQLiteLoader(session)
        raise RuntimeError(f"no bulk loader for {name}")

    def _dbapi(self):
        return self.session.connection().connection.dbapi_connection

    def stamp(self, epoch: int) -> str:
        """A timestamp as this database stores it, from epoch seconds (UTC)."""
        # Day prefixes are cached: this runs for every activity, and strftime is the slow part.
        day, rest = divmod(epoch, 86400)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = self._days[day] = time.strftime("%Y-%m-%d", time.gmtime(day * 86400))
        return f"{prefix} {rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}{self.suffix}"

    def reserve_customer_ids(self, n: int) -> list[int]:
        raise NotImplementedError

    def reserve_activity_ids(self, n: int) -> list[int]:
        """Ids for `n` activities inserted next (purchases: their line items name them)."""
        raise NotImplementedError

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
        raise NotImplementedError

    def defer_indexes(self, tables: Sequence[str]) -> bool:
        """Drop what slows a large load into empty tables; False if not done (see finish)."""
        return False

    def finish(self, progress: Callable[[str], None] | None = None) -> None:
        """Restore what defer_indexes dropped and commit; anything else worth doing once."""
        self.session.commit()


class PostgresLoader(BulkLoader):
    dialect = "postgresql"
    suffix = "+00"

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._restore: list[tuple[str, str]] = []  # (name, SQL) of what defer_indexes dropped
        self._tables: list[str] = []  # the tables whose triggers defer_indexes switched off

    def reserve_customer_ids(self, n: int) -> list[int]:
        # Taken from the table's own sequence, so concurrent inserts by the app never clash.
        return list(self.session.scalars(
            text("SELECT nextval(pg_get_serial_sequence('customers', 'id')) FROM generate_series(1, :n)"),
            {"n": n}))

    def reserve_activity_ids(self, n: int) -> list[int]:
        return list(self.session.scalars(
            text("SELECT nextval(pg_get_serial_sequence('customer_activities', 'id')) FROM generate_series(1, :n)"),
            {"n": n})) if n else []

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
        with self._dbapi().cursor() as cursor, \
                cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def defer_indexes(self, tables: Sequence[str]) -> bool:
        """Drop secondary indexes, unique and foreign-key constraints of these tables if
        they are all empty, to be rebuilt by `finish` in the same transaction.

        Maintaining seven B-trees and two foreign-key checks per row makes COPY into
        customer_activities about eight times slower than building the indexes once at the
        end (PostgreSQL's "Populating a Database" advice). Only for empty tables: the rows
        are locked against writers until the load commits, and nothing else is affected.
        Primary keys stay, since other tables' foreign keys depend on them.
        """
        names = list(tables)

        def any_rows() -> bool:
            return any(self.session.scalar(text(f"SELECT EXISTS (SELECT 1 FROM {name})")) for name in names)

        if any_rows():
            return False
        # Readers go on; writers wait until the load commits. Checked again under the lock.
        self.session.execute(text(f"LOCK TABLE {', '.join(names)} IN EXCLUSIVE MODE"))
        if any_rows():
            return False
        params = {"tables": names}
        constraints = self.session.execute(text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype FROM pg_constraint "
            "WHERE conrelid = ANY(CAST(:tables AS regclass[])) AND contype IN ('u', 'f') "
            "ORDER BY contype, conname"), params).all()  # 'f' before 'u': foreign keys first
        indexes = self.session.execute(text(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i "
            "WHERE indrelid = ANY(CAST(:tables AS regclass[])) AND NOT indisprimary AND NOT EXISTS ("
            "  SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid) "
            "ORDER BY 1"), params).all()
        try:
            # A savepoint: if something else depends on one of these, load with them in place.
            with self.session.begin_nested():
                for table, name, _, _ in constraints:
                    self.session.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
                for name, _ in indexes:
                    self.session.execute(text(f"DROP INDEX {name}"))
                # The rollups' triggers would run once per row at commit: finish sums
                # the rollups once instead.
                for name in names:
                    self.session.execute(text(f"ALTER TABLE {name} DISABLE TRIGGER USER"))
        except DBAPIError:
            return False
        # Rebuild in reverse: indexes and unique constraints before the foreign keys.
        self._tables = names
        self._restore = [(name, definition) for name, definition in indexes]
        self._restore += [(name, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
                          for table, name, definition, _ in reversed(constraints)]
        return True

    def finish(self, progress: Callable[[str], None] | None = None) -> None:
        if self._restore:
            # Sorting in memory builds each index in one pass instead of merging runs on disk.
            self.session.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
            for name, statement in self._restore:
                if progress is not None:
                    progress(f"demo: rebuilding {name}")
                self.session.execute(text(statement))
            self._restore = []
            for name in self._tables:
                self.session.execute(text(f"ALTER TABLE {name} ENABLE TRIGGER USER"))
            rebuild_rollups(self.session)
        # Fresh statistics, so the planner uses the timeline and tag indexes at once
        # instead of waiting for autovacuum to notice millions of new rows.
        self.session.execute(text("ANALYZE customers, customer_tags, customer_activities, purchase_items, "
                                     "event_attendance"))
        self.session.commit()


class SQLiteLoader(BulkLoader):
    dialect = "sqlite"
    # SQLAlchemy's storage format for DATETIME on SQLite: always with microseconds, so
    # text comparison orders them and the ORM reads them back.
    suffix = ".000000"

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._next_id: int | None = None

    def reserve_customer_ids(self, n: int) -> list[int]:
        # SQLite has no sequence: continue after the highest id. A customer created by the
        # app meanwhile would make the next insert fail loudly (primary key), not corrupt.
        if self._next_id is None:
            self._next_id = (self.session.scalar(text("SELECT max(id) FROM customers")) or 0) + 1
        first, self._next_id = self._next_id, self._next_id + n
        return list(range(first, first + n))

    def reserve_activity_ids(self, n: int) -> list[int]:
        # Read afresh each time: activities without an id given take the next ones meanwhile.
        first = (self.session.scalar(text("SELECT max(id) FROM customer_activities")) or 0) + 1
        return list(range(first, first + n))

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
        marks = ", ".join("?" * len(columns))
        cursor = self._dbapi().cursor()
        try:
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        finally:
            cursor.close()
