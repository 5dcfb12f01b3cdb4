"""A workflow's goal and exit conditions: what they may say, in words, and as SQL.

Both are conditions in the segment language, parsed by segments/definition like the
condition step's: `goal: {conditions, match?, within_days?}` and `exit_conditions:
{conditions, match?}` (the condition step's shape). `within_days` is the conversion
window counted from enrollment, 30 days unless said.

A goal may also use one condition of its own, `{"type": "purchased_since_entry"}`: a
purchase that happened after the customer entered the workflow (the issue's "orders_count
increased"). No segment condition can say it, since it depends on the enrollment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, false, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.types import UTCDateTime
from webapp.models import Customer, CustomerActivity
from webapp.segments.compiler import Compiler
from webapp.segments.definition import Group, parse_definition
from webapp.segments.describe import describe_condition

SINCE_ENTRY = "purchased_since_entry"
DEFAULT_WINDOW_DAYS = 30
MAX_WINDOW_DAYS = 365
# Said in words up to this many conditions; more are counted.
MAX_SAID = 3
# Stands in for purchased_since_entry while the rest is validated, so errors keep their index.
_VALID_STAND_IN = {"type": "tag", "operator": "has", "value": "x"}


@dataclass(frozen=True)
class Criteria:
    """Parsed goal or exit conditions: the segment-language part and purchased_since_entry."""

    match: str
    group: Group | None
    since_entry: bool
    within_days: int | None
    words: str


def check_criteria(value: Any, field: str, *, goal: bool) -> dict[str, Any] | None:
    """The normalised goal (goal=True) or exit conditions, None to remove them, or
    ValidationFailed naming the field (goal.conditions[0].value, exit_conditions.match)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationFailed(field, "must be an object: {conditions, match}" + (", within_days" if goal else ""))
    allowed = {"conditions", "match", *(("within_days",) if goal else ())}
    extra = sorted(str(k) for k in set(value) - allowed)
    if extra:
        raise ValidationFailed(f"{field}.{extra[0]}", f"is not a setting of {field}")
    conditions, match = value.get("conditions"), value.get("match", "all")
    if not isinstance(conditions, list) or not conditions:
        raise ValidationFailed(f"{field}.conditions", "needs at least one condition")
    stand_ins = []
    for i, raw in enumerate(conditions):
        if isinstance(raw, dict) and raw.get("type") == SINCE_ENTRY:
            if not goal:
                raise ValidationFailed(f"{field}.conditions[{i}].type", f"{SINCE_ENTRY} is for goals only")
            if set(raw) != {"type"}:
                raise ValidationFailed(f"{field}.conditions[{i}]", f"{SINCE_ENTRY} takes no settings")
            stand_ins.append(_VALID_STAND_IN)
        else:
            stand_ins.append(raw)
    parse_definition(stand_ins, match, path=f"{field}.conditions")
    out: dict[str, Any] = {"conditions": conditions, "match": match}
    if goal:
        days = value.get("within_days", DEFAULT_WINDOW_DAYS)
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_WINDOW_DAYS:
            raise ValidationFailed(f"{field}.within_days",
                                   f"must be a whole number of days from 1 to {MAX_WINDOW_DAYS}")
        out["within_days"] = days
    return out


def parse_criteria(stored: dict[str, Any] | None) -> Criteria | None:
    """Stored (already checked) goal or exit conditions, ready to evaluate."""
    if not stored or not stored.get("conditions"):
        return None
    match = stored.get("match", "all")
    regular = [c for c in stored["conditions"] if not (isinstance(c, dict) and c.get("type") == SINCE_ENTRY)]
    return Criteria(match=match, group=parse_definition(regular, match) if regular else None,
                    since_entry=len(regular) < len(stored["conditions"]), within_days=stored.get("within_days"),
                    words=describe_criteria(stored))


def describe_criteria(stored: dict[str, Any] | None) -> str:
    """"has tag “vip” or made a purchase since entering": short ones in words, else a count."""
    conditions = (stored or {}).get("conditions") or []
    match = (stored or {}).get("match", "all")
    plain = all(isinstance(c, dict) and "conditions" not in c for c in conditions)
    if not plain or not 0 < len(conditions) <= MAX_SAID:
        return f"{match} of {len(conditions)} conditions"
    said = [("made a purchase since entering" if c.get("type") == SINCE_ENTRY else _lower_first(describe_condition(c)))
            for c in conditions]
    return (" and " if match == "all" else " or ").join(said)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def expression(criteria: Criteria, compiler: Compiler, enrolled_at) -> ColumnElement[bool]:
    """True for a Customer row meeting the criteria; `enrolled_at` is a moment or the
    enrollments' column (purchased_since_entry counts purchases after it)."""
    parts: list[ColumnElement[bool]] = []
    if criteria.group is not None:
        parts.append(compiler.group(criteria.group))
    if criteria.since_entry:
        # Correlated to every enclosing table (the customer, and the enrollment in a set-based UPDATE).
        parts.append(exists().where(
            CustomerActivity.customer_id == Customer.id, CustomerActivity.type == "purchase",
            CustomerActivity.occurred_at > enrolled_at).correlate_except(CustomerActivity))
    if not parts:
        return false()
    return and_(*parts) if criteria.match == "all" else or_(*parts)


def met(criteria: Criteria, tenant_id: int, customer_id: int, enrolled_at: datetime, now: datetime) -> bool:
    """One EXISTS: does the customer meet the criteria now?"""
    compiler = Compiler(tenant_id, db.session.get_bind().dialect.name, now)
    return bool(db.session.scalar(select(exists().where(
        Customer.id == customer_id, Customer.tenant_id == tenant_id,
        expression(criteria, compiler, literal(enrolled_at, UTCDateTime()))))))
