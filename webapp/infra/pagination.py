"""Opaque keyset cursors shared by every paginated list."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.types import MAX_ID
from webapp.infra.validation import MAX_JSON_INT, unstorable

# Our cursors hold an id, or a timestamp and an id: far below this.
MAX_CURSOR = 200


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    """Return the cursor's values, or raise a 422 naming `cursor` if it was tampered with."""
    if not cursor:
        return None
    if len(cursor) > MAX_CURSOR:
        raise ValidationFailed("cursor", "is not a cursor returned by this list")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValidationFailed("cursor", "is not a cursor returned by this list") from None
    if not isinstance(values, list) or len(values) != arity or unstorable(values) is not None:
        raise ValidationFailed("cursor", "is not a cursor returned by this list")
    return values


def keyset_by_id(stmt, id_column, *, limit: int, cursor: str | None, scalars: bool = True) -> Page:
    """Newest first by `id_column`, `limit` rows after the opaque `cursor`; the one place
    list endpoints page by id (a tampered cursor is a 422 naming `cursor`)."""
    after = decode_cursor(cursor, 1)
    if after is not None:
        # Past the column's range no row can follow: a tampered cursor, not a database error.
        largest = MAX_JSON_INT if isinstance(id_column.type, BigInteger) else MAX_ID
        if isinstance(after[0], bool) or not isinstance(after[0], int) or not 0 < after[0] <= largest:
            raise ValidationFailed("cursor", "is not a cursor returned by this list")
        stmt = stmt.where(id_column < after[0])
    stmt = stmt.order_by(id_column.desc()).limit(limit + 1)
    rows = list(db.session.scalars(stmt) if scalars else db.session.execute(stmt))
    return Page(rows[:limit], encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None)
