"""One batch item's answer: {"index", "status", "id"} or {"index", "status", "error"}."""

from __future__ import annotations

from typing import Any

from webapp.infra.errors import DomainError

Result = dict[str, Any]


def error_result(index: int, error: DomainError) -> Result:
    """The item's error in the API's error shape, with its index."""
    return {"index": index, "status": error.status,
            "error": {"code": error.code, "message": error.message, "details": error.details}}
