"""Column types shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, BigInteger, DateTime, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

# SQLite only auto-increments INTEGER PRIMARY KEY, so big ids use INTEGER there.
BigId = BigInteger().with_variant(Integer(), "sqlite")

# The largest id of an Integer primary key (PostgreSQL "integer"). Ids from outside above
# it are unknown ids (404), not a database error.
MAX_ID = 2**31 - 1

# JSONB on PostgreSQL (indexable, compact), plain JSON text elsewhere.
JsonDoc = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


def hour_of(moment: datetime) -> datetime:
    """The start of the moment's hour: the bucket of every hourly rollup."""
    return moment.replace(minute=0, second=0, microsecond=0)


def iso_or_none(value: datetime | None) -> str | None:
    """A moment as JSON carries it (ISO 8601), or None."""
    return value.isoformat() if value is not None else None


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend.

    PostgreSQL stores timestamptz; SQLite stores naive UTC text, which we mark as UTC
    again on the way out, so Python code only ever sees aware datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
