"""Comparisons several condition types share, in SQL and in plain Python side by side: the
compiler and the reference evaluator must agree on them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.sql.elements import ColumnElement


def compare_sql(column, op: str, value: Any) -> ColumnElement[bool]:
    return {
        "=": lambda: column == value,
        "!=": lambda: column != value,
        ">": lambda: column > value,
        ">=": lambda: column >= value,
        "<": lambda: column < value,
        "<=": lambda: column <= value,
    }[op]()


def compare(left: Any, op: str, right: Any) -> bool:
    return {"=": left == right, "!=": left != right, ">": left > right, ">=": left >= right,
            "<": left < right, "<=": left <= right}[op]


def _json_equal(a: Any, b: Any) -> bool:
    # JSON semantics: booleans only equal booleans; 5 equals 5.0.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return type(a) is type(b) and a == b


def json_match(doc: dict[str, Any], key: str, op: str, v: Any) -> bool:
    """One top-level key of a JSON document compared as the compiler's `json_match` does."""
    present = key in doc and doc[key] is not None
    value = doc.get(key)
    if op == "is_set":
        return present
    if op == "is_not_set":
        return not present
    if op == "=":
        return present and _json_equal(value, v)
    if op == "!=":
        return not (present and _json_equal(value, v))
    if op == "contains":
        return isinstance(value, str) and str(v).lower() in value.lower()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return compare(float(value), op, float(v))
