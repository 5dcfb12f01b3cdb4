"""One batch item's answer: {"index", "status", "id"} or {"index", "status", "error"}; and
the answer of items a transaction refused for contention could not store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from webapp.infra.errors import Busy, DomainError
from webapp.infra.sql import commits_so_far, retrying_transaction

Result = dict[str, Any]
UNIT_ATTEMPTS = 3


def error_result(index: int, error: DomainError) -> Result:
    """The item's error in the API's error shape, with its index."""
    return {"index": index, "status": error.status,
            "error": {"code": error.code, "message": error.message, "details": error.details}}


def run_unit(work: Callable[[], None], indexes: list[int], results: dict[int, Result], since: int) -> None:
    """work(): one transaction of a batch request (a run of set-based items, or one ticket
    scan), which answers its items in `results`. Refused for contention before anything of
    the request was committed (commits_so_far() still `since`), the refusal goes up: the API
    runs the whole request again. After a commit it cannot: the unit runs again here, and if
    it is refused every time its items are answered 503 busy, the items committed before them
    keeping their answers."""
    if commits_so_far() == since:
        work()
        return
    try:
        retrying_transaction(work, attempts=UNIT_ATTEMPTS, pause=0.05,
                             busy="other requests were changing the same customers; this item was not saved: "
                                  "send it again")
    except Busy as busy:
        for index in indexes:
            results[index] = error_result(index, busy)
