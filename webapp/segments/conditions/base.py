"""What a segment condition type is, and the parsed condition every type produces.

A type (total_spent, tag, activity, ...) is one `ConditionType` object that says how it
reads its JSON item (`parse`), what SQL it compiles to (`compile`), what it means in plain
Python for the reference evaluator (`evaluate`), how it reads for people (`describe`) and
what the builder shows for it (`label`, `operators`, `widget`, `leading`). The package's
`__init__` lists the types; the parser, the compiler, the reference evaluator, the
describer and the builder page all find a type there, by its name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol

from sqlalchemy.sql.elements import ColumnElement

from webapp.segments.conditions import inputs
from webapp.segments.conditions.operators import RELATIVE_OPERATORS
from webapp.segments.conditions.words import describe_plain
from webapp.segments.facts import CustomerFacts


@dataclass(frozen=True)
class Condition:
    type: str
    operator: str
    value: Any = None
    # Extra arguments some types take: attribute key, activity type, windows, ranges.
    key: str | None = None
    activity_type: str | None = None
    within_last_days: int | None = None
    property_key: str | None = None
    property_value: Any = None
    since: datetime | None = None
    until: datetime | None = None
    campaign_id: int | None = None
    # A type's own settings, parsed into a frozen dataclass of that type (the ticket and
    # attendance types: what tickets, which events, how many months back).
    scope: Any = None


class SqlContext(Protocol):
    """What a type's `compile` may ask of the compiler (webapp.segments.compiler.Compiler):
    the evaluation instant and the backend's JSON access."""

    def at(self, moment: datetime) -> ColumnElement: ...

    def days_ago(self, days: int) -> ColumnElement: ...

    def months_ago(self, months: int) -> ColumnElement: ...

    def json_match(self, column: Any, key: str, op: str, value: Any) -> ColumnElement[bool]: ...


class ConditionType:
    """One condition type. Subclasses set the class attributes and write `parse`, `compile`
    and `evaluate`; `describe`, `widget` and `time_relative` have defaults."""

    name: str
    # The type's name for people (the builder's type menu, the segment page).
    label: str
    # Operator -> its words for people, in the builder's order.
    operators: Mapping[str, str]
    # The operator an item may leave out ("tag": has); None: the item must name one.
    default_operator: str | None = None
    # What the builder picks when a marketer chooses this type (the language's default
    # where it has one).
    builder_operator: str
    # Keys an item may carry besides type, operator and value -> their names for people
    # (the builder puts them before an error message about that key).
    settings: Mapping[str, str] = MappingProxyType({})
    # Inputs the builder shows before the operator (the attribute's name, the activity's type).
    leading: tuple[dict[str, Any], ...] = ()

    def parse(self, raw: dict, operator: str, path: str) -> dict[str, Any]:
        """The Condition's fields besides type and operator, from an item whose type, operator
        and keys are already checked; raises ValidationFailed naming the offending key."""
        raise NotImplementedError

    def compile(self, sql: SqlContext, cond: Condition) -> ColumnElement[bool]:
        """A two-valued boolean over `customers` (never NULL), as the reference defines it."""
        raise NotImplementedError

    def evaluate(self, cond: Condition, customer: CustomerFacts, now: datetime) -> bool:
        """The condition's meaning for one customer, slow and obvious."""
        raise NotImplementedError

    def describe(self, raw: dict[str, Any], op: str, op_label: str) -> str:
        """One line for people, from the stored item (read leniently: it is not parsed again)."""
        return describe_plain(self.label, raw, op, op_label)

    def widget(self, operator: str | None) -> dict[str, Any]:
        """The value input(s) the builder shows for `operator` (see `inputs`); any operator the
        type does not list (None included) gets the type's usual input."""
        return inputs.text("Value")

    def time_relative(self, cond: Condition) -> bool:
        """True when the clock alone can change whether a customer matches."""
        return cond.operator in RELATIVE_OPERATORS or cond.within_last_days is not None

    def form(self) -> dict[str, Any]:
        """The type as the builder's script reads it (static/js/segment-builder.js)."""
        return {"type": self.name, "label": self.label,
                "operators": [{"value": op, "label": label} for op, label in self.operators.items()],
                "widgets": {op: self.widget(op) for op in self.operators},
                "defaultWidget": self.widget(None),
                "leading": list(self.leading)}
