"""Each condition type is one registry entry that the parser, the compiler, the reference
evaluator, the describer and the builder all find; these tests hold every entry to that."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from webapp.segments.compiler import Compiler
from webapp.segments.conditions import CONDITION_TYPES, FIELD_LABELS, OPERATOR_LABELS
from webapp.segments.conditions.base import ConditionType
from webapp.segments.definition import parse_definition
from webapp.segments.describe import describe_condition
from webapp.segments.reference import CustomerFacts, matches
from webapp.web.condition_builder import builder_schema

# Touches no test database: the SQLite run has it, the PostgreSQL run skips it.
pytestmark = pytest.mark.no_database

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
# One valid item per type, as the builder or the API would send it.
EXAMPLES = {
    "total_spent": {"type": "total_spent", "operator": ">=", "value": 100},
    "orders_count": {"type": "orders_count", "operator": ">", "value": 2},
    "last_order_at": {"type": "last_order_at", "operator": "within_last_days", "value": 30},
    "created_at": {"type": "created_at", "operator": "before", "value": "2026-01-01"},
    "tag": {"type": "tag", "value": "vip"},
    "email": {"type": "email", "operator": "ends_with", "value": "@example.com"},
    "first_name": {"type": "first_name", "operator": "equals", "value": "Ann"},
    "last_name": {"type": "last_name", "operator": "is_set"},
    "email_status": {"type": "email_status", "operator": "in", "value": ["subscribed", "bounced"]},
    "attribute": {"type": "attribute", "key": "city", "operator": "=", "value": "Leeds"},
    "activity": {"type": "activity", "activity_type": "purchase", "operator": "at_least", "value": 2,
                 "within_last_days": 30, "property": {"key": "kind", "value": "a"}},
    "purchased_event": {"type": "purchased_event", "operator": "name", "value": "Jazz Night",
                        "from": "2026-01-01"},
    "email_engagement": {"type": "email_engagement", "operator": "opened", "campaign_id": 3,
                         "within_last_days": 7},
    "topic": {"type": "topic", "operator": "not_subscribed", "value": 2},
    "ticket": {"type": "ticket", "operator": "bought", "tier": "VIP", "quantity_at_least": 4, "price_at_least": 50,
               "event_tag": {"kind": "genre", "value": "jazz"}, "from": "2026-01-01"},
    "upcoming_event": {"type": "upcoming_event", "operator": "holds", "venue": "Village Vanguard"},
    "days_until_next_event": {"type": "days_until_next_event", "operator": "between", "value": [1, 7]},
    "attendance": {"type": "attendance", "operator": "no_show", "event": 3, "event_name": "Jazz Night"},
    "attendance_rate": {"type": "attendance_rate", "operator": ">=", "value": 80, "within_last_months": 12},
    "attended_events": {"type": "attended_events", "operator": "at_least", "value": 3,
                        "event_tag": {"kind": "artist", "value": "Nina Simone"}},
}


def test_every_registered_type_has_an_example_here():
    assert set(CONDITION_TYPES) == set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_type_parses_compiles_evaluates_and_describes_its_example(name):
    group = parse_definition([EXAMPLES[name]])
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        assert "customers" in str(Compiler(1, dialect.name, NOW).members(group).compile(dialect=dialect))
    assert isinstance(matches(group, CustomerFacts(id=1, email="ann@example.com"), NOW), bool)
    assert describe_condition(EXAMPLES[name])


@pytest.mark.parametrize("kind", CONDITION_TYPES.values(), ids=list(CONDITION_TYPES))
def test_a_type_offers_the_builder_its_operators_inputs_and_defaults(kind: ConditionType):
    assert kind.builder_operator in kind.operators
    assert kind.default_operator is None or kind.default_operator in kind.operators
    form = kind.form()
    assert [o["value"] for o in form["operators"]] == list(kind.operators)
    assert set(form["widgets"]) == set(kind.operators)
    assert all("kind" in widget for widget in [*form["widgets"].values(), form["defaultWidget"]])
    assert all(i["field"] in kind.settings for i in form["leading"])


def test_an_operator_reads_the_same_whatever_the_type():
    for kind in CONDITION_TYPES.values():
        for op, label in kind.operators.items():
            assert OPERATOR_LABELS[op] == label, f"{kind.name}: {op!r} reads {label!r}, not {OPERATOR_LABELS[op]!r}"


def test_a_setting_has_one_name_for_people_whatever_the_type():
    for kind in CONDITION_TYPES.values():
        for key, label in kind.settings.items():
            assert FIELD_LABELS[key] == label, f"{kind.name}: {key!r}"


def test_the_builder_lists_the_registered_types_in_order():
    assert [t["type"] for t in builder_schema()["types"]] == list(CONDITION_TYPES)
