"""Parse and validate segment definitions.

A definition is the specification's list of `{"type", "operator", "value"}` items combined
by `match` ("all" by default, or "any"); an item may itself be a group
`{"match": ..., "conditions": [...]}`, nested at most MAX_DEPTH deep. Errors name the
offending item, e.g. `conditions[1].operator: '>>' is not one of '=', '!=', ...`.

What each condition type accepts is its entry's business (webapp.segments.conditions);
this module checks what all items share: the type, the operator, the keys, the nesting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from webapp.infra.errors import ValidationFailed
from webapp.infra.validation import check_storable
from webapp.segments.conditions import (
    CONDITION_TYPES,
    DEFAULT_OPERATOR,
    NO_VALUE_OPERATORS,
    OPERATORS,
    RELATIVE_OPERATORS,
    Condition,
)
from webapp.segments.conditions.values import quote

__all__ = ["DEFAULT_OPERATOR", "MAX_CONDITIONS", "MAX_DEPTH", "NO_VALUE_OPERATORS", "OPERATORS",
           "RELATIVE_OPERATORS", "Condition", "Group", "parse_definition"]

MAX_DEPTH = 4
MAX_CONDITIONS = 100


@dataclass(frozen=True)
class Group:
    match: str
    conditions: tuple[Condition | Group, ...] = field(default_factory=tuple)

    def walk(self):
        for item in self.conditions:
            if isinstance(item, Group):
                yield from item.walk()
            else:
                yield item

    @property
    def is_time_relative(self) -> bool:
        """True when the clock alone can change membership."""
        return any(CONDITION_TYPES[cond.type].time_relative(cond) for cond in self.walk())


def _parse_condition(raw: dict, path: str) -> Condition:
    ctype = raw.get("type")
    if not isinstance(ctype, str) or ctype not in CONDITION_TYPES:
        raise ValidationFailed(f"{path}.type", f"{ctype!r} is not one of {quote(tuple(CONDITION_TYPES))}")
    kind = CONDITION_TYPES[ctype]
    allowed = OPERATORS[ctype]
    operator = raw.get("operator", kind.default_operator)
    if operator is None:
        raise ValidationFailed(f"{path}.operator", f"is required for {ctype}: one of {quote(allowed)}")
    if operator not in allowed:
        shown = operator if isinstance(operator, str) else repr(operator)
        raise ValidationFailed(f"{path}.operator", f"'{shown}' is not one of {quote(allowed)}")
    known = {"type", "operator", "value"} | set(kind.settings)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValidationFailed(f"{path}.{unknown[0]}", f"is not a setting of a {ctype} condition")
    return Condition(type=ctype, operator=operator, **kind.parse(raw, operator, path))


def parse_definition(conditions: Any, match: Any = "all", *, path: str = "conditions") -> Group:
    """Validate a definition and return its tree; raises ValidationFailed naming the item."""
    check_storable(conditions, path)
    counter = [0]
    return _parse_group(conditions, match, path, depth=1, counter=counter)


def _parse_group(conditions: Any, match: Any, path: str, *, depth: int, counter: list[int]) -> Group:
    if match not in ("all", "any"):
        where = path.rsplit(".", 1)[0] + ".match" if "." in path else "match"
        raise ValidationFailed(where, f"{match!r} is not one of 'all', 'any'")
    if not isinstance(conditions, list):
        raise ValidationFailed(path, "must be a list of conditions")
    if not conditions:
        raise ValidationFailed(path, "needs at least one condition")
    items: list[Condition | Group] = []
    for i, raw in enumerate(conditions):
        item_path = f"{path}[{i}]"
        if not isinstance(raw, dict):
            raise ValidationFailed(item_path, "must be an object")
        counter[0] += 1
        if counter[0] > MAX_CONDITIONS:
            raise ValidationFailed(item_path, f"a segment has at most {MAX_CONDITIONS} conditions")
        if "conditions" in raw:
            if depth >= MAX_DEPTH:
                raise ValidationFailed(item_path, f"groups nest at most {MAX_DEPTH} levels deep")
            extra = sorted(set(raw) - {"match", "conditions"})
            if extra:
                raise ValidationFailed(f"{item_path}.{extra[0]}", "is not a setting of a group")
            items.append(_parse_group(raw["conditions"], raw.get("match", "all"),
                                      f"{item_path}.conditions", depth=depth + 1, counter=counter))
        else:
            items.append(_parse_condition(raw, item_path))
    return Group(match=match, conditions=tuple(items))
