"""The SQL compiler and the pure-Python reference evaluator give the same members for
random customers, activities and definitions, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from webapp.extensions import db
from webapp.models import Customer, CustomerActivity, CustomerTag
from webapp.segments.compiler import Compiler
from webapp.segments.definition import parse_definition
from webapp.segments.reference import ActivityFacts, CustomerFacts, matches

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAYS = [0, 1, 7, 29, 30, 31, 90, 400]
MONEY = [0, 50, 99.99, 100, 250.5]
# Names and places in more than ASCII: SQLite's own lower() folded ASCII only.
NAMES = [None, "", "Ann", "ann", "Bob", "Zoë", "ZOË", "Élodie", "O'Neil"]
ATTR_VALUES = ["Leeds", "leeds", "York", "ZÜRICH", 30, 30.0, 45, True, False, None]
TAGS = ["vip", "newsletter", "student"]
EVENTS = [("1", "Jazz Night"), ("2", "Rock Fest"), (None, None)]


def moment(days: int) -> datetime:
    return NOW - timedelta(days=days, minutes=5)


activity_st = st.fixed_dictionaries({
    "type": st.sampled_from(["purchase", "page_view", "email_opened", "email_clicked"]),
    "days": st.sampled_from(DAYS),
    "properties": st.dictionaries(st.sampled_from(["kind", "campaign_id", "seats"]),
                                  st.sampled_from(["a", "b", 1, 2, 2.0, True]), max_size=2),
    "event": st.sampled_from(EVENTS),
})

customer_st = st.fixed_dictionaries({
    "local": st.sampled_from(["ann", "bob", "cat", "dan.e", "eve_1"]),
    "domain": st.sampled_from(["example.com", "mail.example.org", "EXAMPLE.net"]),
    "first_name": st.sampled_from(NAMES),
    "last_name": st.sampled_from(NAMES),
    "email_status": st.sampled_from(["subscribed", "unsubscribed", "bounced", "complained"]),
    "total_spent": st.sampled_from(MONEY),
    "orders_count": st.integers(0, 5),
    "last_order_days": st.none() | st.sampled_from(DAYS),
    "created_days": st.sampled_from(DAYS),
    "attributes": st.dictionaries(st.sampled_from(["city", "age", "member"]), st.sampled_from(ATTR_VALUES),
                                  max_size=3),
    "tags": st.sets(st.sampled_from(TAGS)),
    "activities": st.lists(activity_st, max_size=5),
})

date_value = st.sampled_from(["2026-05-02", "2026-05-31", "2025-05-27T11:55:00+00:00"])

leaf_st = st.one_of(
    st.builds(lambda op, v: {"type": "total_spent", "operator": op, "value": v},
              st.sampled_from(["=", "!=", ">", ">=", "<", "<="]), st.sampled_from(MONEY)),
    st.builds(lambda op, v: {"type": "orders_count", "operator": op, "value": v},
              st.sampled_from(["=", "!=", ">", ">=", "<", "<="]), st.integers(0, 5)),
    st.builds(lambda t, op, v: {"type": t, "operator": op, "value": v},
              st.sampled_from(["last_order_at", "created_at"]),
              st.sampled_from(["within_last_days", "more_than_days_ago"]), st.sampled_from(DAYS)),
    st.builds(lambda t, op, v: {"type": t, "operator": op, "value": v},
              st.sampled_from(["last_order_at", "created_at"]), st.sampled_from(["before", "after"]), date_value),
    st.builds(lambda t, v: {"type": t, "operator": "on", "value": v},
              st.sampled_from(["last_order_at", "created_at"]), st.sampled_from(["2026-05-02", "2026-05-31"])),
    st.builds(lambda t: {"type": t, "operator": "between", "value": ["2026-05-01", "2026-05-31T00:00:00+00:00"]},
              st.sampled_from(["last_order_at", "created_at"])),
    st.builds(lambda t, op: {"type": t, "operator": op}, st.sampled_from(["last_order_at"]),
              st.sampled_from(["is_set", "is_not_set"])),
    st.builds(lambda v: {"type": "tag", "value": v}, st.sampled_from(TAGS)),
    st.builds(lambda v: {"type": "tag", "operator": "has_not", "value": v}, st.sampled_from(TAGS)),
    st.builds(lambda op, v: {"type": "email", "operator": op, "value": v},
              st.sampled_from(["equals", "not_equals", "contains", "ends_with"]),
              st.sampled_from(["ann@example.com", "example.com", "@example.net", "b", ".org"])),
    st.builds(lambda t, op, v: {"type": t, "operator": op, "value": v},
              st.sampled_from(["first_name", "last_name"]),
              st.sampled_from(["equals", "not_equals", "contains", "starts_with", "ends_with"]),
              st.sampled_from(["ann", "AN", "o", "Bob", "zoë", "ÉL"])),
    st.builds(lambda t, op: {"type": t, "operator": op}, st.sampled_from(["first_name", "last_name"]),
              st.sampled_from(["is_set", "is_not_set"])),
    st.builds(lambda op, v: {"type": "email_status", "operator": op, "value": v},
              st.sampled_from(["=", "!="]), st.sampled_from(["subscribed", "bounced"])),
    st.builds(lambda op: {"type": "email_status", "operator": op, "value": ["subscribed", "complained"]},
              st.sampled_from(["in", "not_in"])),
    st.builds(lambda k, op, v: {"type": "attribute", "key": k, "operator": op, "value": v},
              st.sampled_from(["city", "age", "member"]), st.sampled_from(["=", "!="]),
              st.sampled_from(["Leeds", 30, True, False])),
    st.builds(lambda k, op, v: {"type": "attribute", "key": k, "operator": op, "value": v},
              st.sampled_from(["city", "age"]), st.sampled_from([">", ">=", "<", "<="]), st.sampled_from([30, 40.5])),
    st.builds(lambda k, op: {"type": "attribute", "key": k, "operator": op},
              st.sampled_from(["city", "member"]), st.sampled_from(["is_set", "is_not_set"])),
    st.builds(lambda v: {"type": "attribute", "key": "city", "operator": "contains", "value": v},
              st.sampled_from(["ee", "YO", "x", "züR"])),
    st.builds(lambda t, op, n, days, prop: {
        "type": "activity", "activity_type": t, "operator": op, "value": n,
        **({"within_last_days": days} if days else {}), **({"property": prop} if prop else {})},
        st.sampled_from(["purchase", "page_view", "email_opened"]), st.sampled_from(["at_least", "at_most", "exactly"]),
        st.integers(0, 3), st.sampled_from([None, 1, 30, 31]),
        st.sampled_from([None, {"key": "kind", "value": "a"}, {"key": "seats", "value": 2}])),
    st.builds(lambda op, v, rng: {"type": "purchased_event", "operator": op, "value": v, **rng},
              st.sampled_from(["id", "name", "name_contains"]), st.sampled_from(["1", "Jazz Night", "fest"]),
              st.sampled_from([{}, {"from": "2026-05-01"}, {"to": "2026-05-25T00:00:00+00:00"}])),
    st.builds(lambda op, days, campaign: {
        "type": "email_engagement", "operator": op, **({"within_last_days": days} if days else {}),
        **({"campaign_id": campaign} if campaign else {})},
        st.sampled_from(["opened", "clicked", "not_opened", "not_clicked"]), st.sampled_from([None, 7, 30]),
        st.sampled_from([None, 1, 2])),
)


def group_st(depth: int = 1):
    items = leaf_st if depth >= 3 else st.one_of(leaf_st, st.deferred(lambda: group_st(depth + 1)))
    return st.builds(lambda match, conds: {"match": match, "conditions": conds},
                     st.sampled_from(["all", "any"]), st.lists(items, min_size=1, max_size=3))


definition_st = st.builds(lambda g: g, group_st())


def _load(tenant_id: int, raw_customers: list[dict]) -> list[CustomerFacts]:
    db.session.execute(delete(Customer).where(Customer.tenant_id == tenant_id))
    facts = []
    for i, raw in enumerate(raw_customers):
        email = f"{raw['local']}{i}@{raw['domain']}".lower()
        customer = Customer(
            tenant_id=tenant_id, email=email, first_name=raw["first_name"], last_name=raw["last_name"],
            email_status=raw["email_status"], total_spent=Decimal(str(raw["total_spent"])),
            orders_count=raw["orders_count"],
            last_order_at=None if raw["last_order_days"] is None else moment(raw["last_order_days"]),
            created_at=moment(raw["created_days"]), attributes=raw["attributes"])
        db.session.add(customer)
        db.session.flush()
        if raw["tags"]:
            db.session.execute(insert(CustomerTag), [
                {"customer_id": customer.id, "tenant_id": tenant_id, "tag": t} for t in raw["tags"]])
        activity_facts = []
        for a in raw["activities"]:
            event_id, event_name = a["event"] if a["type"] == "purchase" else (None, None)
            db.session.add(CustomerActivity(
                tenant_id=tenant_id, customer_id=customer.id, type=a["type"], properties=a["properties"],
                occurred_at=moment(a["days"]), event_id=event_id, event_name=event_name))
            activity_facts.append(ActivityFacts(a["type"], moment(a["days"]), a["properties"], event_id, event_name))
        facts.append(CustomerFacts(
            id=customer.id, email=email, first_name=raw["first_name"], last_name=raw["last_name"],
            email_status=raw["email_status"], total_spent=Decimal(str(raw["total_spent"])),
            orders_count=raw["orders_count"], last_order_at=customer.last_order_at, created_at=customer.created_at,
            attributes=raw["attributes"], tags=set(raw["tags"]), activities=activity_facts))
    db.session.flush()
    return facts


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(raw_customers=st.lists(customer_st, min_size=1, max_size=6),
       definitions=st.lists(definition_st, min_size=1, max_size=4))
def test_sql_members_equal_reference_members(app, tenant_a, raw_customers, definitions):
    facts = _load(tenant_a.id, raw_customers)
    compiler = Compiler(tenant_a.id, db.engine.dialect.name, NOW)
    for raw in definitions:
        group = parse_definition(raw["conditions"], raw["match"])
        expected = {c.id for c in facts if matches(group, c, NOW)}
        actual = set(db.session.scalars(compiler.members(group)))
        assert actual == expected, f"definition {raw} disagrees: SQL {sorted(actual)} vs reference {sorted(expected)}"
    db.session.rollback()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(raw_customers=st.lists(customer_st, min_size=1, max_size=4),
       definitions=st.lists(definition_st, min_size=1, max_size=6))
def test_the_precompiled_probe_answers_as_the_statement_it_was_compiled_from(app, tenant_a, raw_customers,
                                                                            definitions):
    """On PostgreSQL one customer's probe of every segment runs as SQL compiled once into
    the server's placeholders (segment_refresh._probe); for any definitions and customers
    it must give the rows the SQLAlchemy statement gives."""
    if db.engine.dialect.name != "postgresql":
        return  # SQLite runs the SQLAlchemy statement itself
    from webapp.models import CustomerSegment
    from webapp.services import segment_refresh, segments

    db.session.execute(delete(CustomerSegment).where(CustomerSegment.tenant_id == tenant_a.id))
    facts = _load(tenant_a.id, raw_customers)
    for n, raw in enumerate(definitions):
        segments.create_segment(tenant_a.id, f"Probe {n}", raw["conditions"], raw["match"])
    versions = segment_refresh._versions(tenant_a.id)
    statement = segment_refresh._probe_statement(tenant_a.id, versions, None)
    for customer in facts:
        expected = sorted(tuple(r) for r in db.session.execute(statement, {"customer_id": customer.id}))
        assert sorted(segment_refresh._probe(tenant_a.id, versions, None, customer.id)) == expected
    db.session.rollback()
