"""The SQL a block of code sends, for tests that count statements or look for one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, event

from webapp.extensions import db


@contextmanager
def sql_sent(engine: Engine | None = None) -> Iterator[list[str]]:
    """Every statement `engine` (the app's by default) sends while the block runs, in order."""
    engine = engine or db.engine
    sent: list[str] = []

    def remember(conn, cursor, statement, *args) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", remember)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", remember)
