"""Turning pydantic validation errors into field-named domain errors."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from webapp.services.errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)


def number_only(value: Any) -> Any:
    """Before-validator for money: a JSON number, never a string or a boolean."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a JSON number")
    return value


def field_path(loc: tuple[Any, ...], prefix: str = "") -> str:
    """('conditions', 1, 'operator') -> 'conditions[1].operator'."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def nul_path(value: Any, path: str = "") -> str | None:
    """The field path of the first string or key holding a NUL character, else None.

    PostgreSQL cannot store NUL in text or JSON, so such input is refused up front."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            sub = field_path((key,), path)
            found = sub if "\x00" in str(key) else nul_path(item, sub)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = nul_path(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def error_details(exc: ValidationError, prefix: str = "") -> list[dict]:
    details = []
    for err in exc.errors(include_url=False):
        # Unions report each branch in loc; the tagged branch name only adds noise.
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        details.append({"field": field_path(loc, prefix), "message": msg})
    return details


def failed_from(exc: ValidationError, prefix: str = "") -> ValidationFailed:
    details = error_details(exc, prefix)
    first = details[0] if details else {"field": prefix, "message": "is invalid"}
    return ValidationFailed(first["field"], first["message"], details=details)


def validate(model: type[M], data: Any, prefix: str = "") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise failed_from(exc, prefix) from None
