"""Bulk loading of plain tuples: COPY on PostgreSQL, executemany on SQLite.

Both go through the session's own connection, so the rows join the session's
transaction and `db.session.commit()` commits them. The ORM is bypassed on purpose:
building millions of objects costs far more than the database spends storing the rows.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session


class BulkLoader:
    """Writes rows into one table at a time and hands out customer ids ahead of the insert."""

    dialect = ""

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

    # Timestamps as the database stores them, from epoch seconds. Day prefixes are cached:
    # this runs for every activity, and strftime per call is the slow part.
    suffix = ""

    def stamp(self, epoch: int) -> str:
        day, rest = divmod(epoch, 86400)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = self._days[day] = time.strftime("%Y-%m-%d", time.gmtime(day * 86400))
        return f"{prefix} {rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}{self.suffix}"

    def reserve_customer_ids(self, n: int) -> list[int]:
        raise NotImplementedError

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Anything worth doing once after a large load."""


class PostgresLoader(BulkLoader):
    dialect = "postgresql"
    suffix = "+00"

    def reserve_customer_ids(self, n: int) -> list[int]:
        # Taken from the table's own sequence, so concurrent inserts by the app never clash.
        return list(self.session.scalars(
            text("SELECT nextval(pg_get_serial_sequence('customers', 'id')) FROM generate_series(1, :n)"),
            {"n": n}))

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
        with self._dbapi().cursor() as cursor, \
                cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def finish(self) -> None:
        # Fresh statistics, so the planner uses the timeline and tag indexes at once
        # instead of waiting for autovacuum to notice millions of new rows.
        self.session.execute(text("ANALYZE customers, customer_tags, customer_activities"))
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

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
        marks = ", ".join("?" * len(columns))
        cursor = self._dbapi().cursor()
        try:
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        finally:
            cursor.close()
