"""Small SQL building blocks that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

from webapp.extensions import db


def insert_ignoring_duplicates(table: Table):
    """INSERT ... ON CONFLICT DO NOTHING for the session's backend; its rowcount tells how
    many rows were new (psycopg loses an INSERT's count unless asked to keep it)."""
    dialect = db.session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing().execution_options(preserve_rowcount=True)


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with the wildcards in it escaped."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
