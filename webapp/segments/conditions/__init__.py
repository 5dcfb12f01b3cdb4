"""The segment condition types: one entry per type, from which its parsing, description,
SQL, reference meaning and builder form are all found (see `base.ConditionType`).

To add a type, write its ConditionType subclass in the family module it belongs to and add
it to that module's TYPES; a new family module also goes into FAMILIES below. The order of
FAMILIES and of each TYPES is the order of the builder's type menu and of error messages.
"""

from __future__ import annotations

from webapp.segments.conditions import (
    activities,
    attendance,
    attributes,
    contact,
    dates,
    engagement,
    numbers,
    tags,
    tickets,
    topics,
)
from webapp.segments.conditions.base import Condition, ConditionType
from webapp.segments.conditions.operators import NO_VALUE_OPERATORS, RELATIVE_OPERATORS

__all__ = ["CONDITION_TYPES", "DEFAULT_OPERATOR", "FIELD_LABELS", "NO_VALUE_OPERATORS", "OPERATORS",
           "OPERATOR_LABELS", "RELATIVE_OPERATORS", "Condition", "ConditionType"]

FAMILIES = (numbers, dates, tags, contact, attributes, activities, tickets, attendance, engagement, topics)

CONDITION_TYPES: dict[str, ConditionType] = {kind.name: kind for family in FAMILIES for kind in family.TYPES}

# Views of the registry that the parser, the describer and the builder read.
OPERATORS: dict[str, tuple[str, ...]] = {name: tuple(kind.operators) for name, kind in CONDITION_TYPES.items()}
DEFAULT_OPERATOR: dict[str, str] = {name: kind.default_operator for name, kind in CONDITION_TYPES.items()
                                    if kind.default_operator is not None}
OPERATOR_LABELS: dict[str, str] = {op: label for kind in CONDITION_TYPES.values()
                                   for op, label in kind.operators.items()}
# The names of an item's keys for people, whatever its type (the builder's error messages).
FIELD_LABELS: dict[str, str] = {
    "type": "Type", "operator": "Operator", "value": "Value", "value[0]": "From", "value[1]": "To",
    "match": "Match",
    **{key: label for kind in CONDITION_TYPES.values() for key, label in kind.settings.items()},
}
