"""The ticket and attendance conditions compile to SQL that agrees with the reference
evaluator, for random events (tags, venues, starts in the past and the future, cancelled,
settled or not), purchases with line items (group orders, prices, guests) and attendance
rows, on SQLite and PostgreSQL alike. A sibling of test_compiler_agrees_with_reference.py,
whose plain conditions are mixed in so groups combine both kinds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from webapp.extensions import db
from webapp.models import Customer, CustomerActivity, Event, EventAttendance, EventTag, PurchaseItem
from webapp.segments.compiler import Compiler
from webapp.segments.definition import parse_definition
from webapp.segments.facts import AttendanceFacts, EventFacts, TicketFacts
from webapp.segments.reference import ActivityFacts, CustomerFacts, matches

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
# Starts around the edges the conditions draw: now, whole days ahead, one and twelve months back.
STARTS = [None, NOW - timedelta(days=400), datetime(2025, 6, 1, 12, 0, tzinfo=UTC),
          datetime(2026, 5, 1, 12, 0, tzinfo=UTC), NOW - timedelta(days=1), NOW,
          NOW + timedelta(hours=5), NOW + timedelta(days=1) - timedelta(seconds=1), NOW + timedelta(days=1),
          NOW + timedelta(days=3), NOW + timedelta(days=30)]
TAGS = [("genre", "Jazz"), ("genre", "rock"), ("artist", "Nina Simone"), ("series", "Late")]
VENUES = [None, "Vanguard", "VANGUARD", "Blue Note"]
TYPES = [None, "General", "VIP", "vip"]
PRICES = [None, Decimal("10"), Decimal("49.99"), Decimal("50")]
EVENT_COUNT = 4

event_st = st.fixed_dictionaries({
    "starts": st.sampled_from(STARTS),
    "status": st.sampled_from(["on_sale", "cancelled", "ended", "rescheduled"]),
    "venue": st.sampled_from(VENUES),
    "settled": st.booleans(),
    "tags": st.sets(st.sampled_from(TAGS), max_size=2),
})

line_st = st.fixed_dictionaries({
    "ticket_type": st.sampled_from(TYPES),
    "tier": st.sampled_from([None, "Gold", "gold", "Silver"]),
    "section": st.sampled_from([None, "Balcony"]),
    "quantity": st.integers(1, 3),
    "price": st.sampled_from(PRICES),
    "guest": st.none() | st.integers(0, 4),  # another customer (by index) named on the ticket
})

purchase_st = st.fixed_dictionaries({
    "event": st.none() | st.integers(0, EVENT_COUNT - 1),
    "days": st.sampled_from([0, 1, 30, 200]),
    "lines": st.lists(line_st, min_size=1, max_size=3),
})

customer_st = st.fixed_dictionaries({
    "purchases": st.lists(purchase_st, max_size=4),
    "attendance": st.dictionaries(st.integers(0, EVENT_COUNT - 1), st.sampled_from(["attended", "no_show"]),
                                  max_size=EVENT_COUNT),
})

# "E0".."E3" stand for the example's events, "THEIRS" for another organisation's event.
event_ref = st.sampled_from(["E0", "E1", "E3", "THEIRS"])
tag_st = st.builds(lambda kv, shout: {"kind": kv[0], "value": kv[1].upper() if shout else kv[1]},
                   st.sampled_from(TAGS + [("genre", "folk")]), st.booleans())
scope_st = st.one_of(st.just({}), st.builds(lambda e: {"event": e}, event_ref),
                     st.builds(lambda t: {"event_tag": t}, tag_st),
                     st.builds(lambda v: {"venue": v}, st.sampled_from(["vanguard", "Blue Note", "Nowhere"])))
venue_or_tag_st = st.one_of(st.just({}), st.builds(lambda t: {"event_tag": t}, tag_st),
                            st.builds(lambda v: {"venue": v}, st.sampled_from(["vanguard", "Blue Note"])))


def _optional(key: str, values: list) -> st.SearchStrategy[dict]:
    return st.one_of(st.just({}), st.builds(lambda v: {key: v}, st.sampled_from(values)))


ticket_st = st.builds(
    lambda op, t, tier, section, q, p, scope, period: {
        "type": "ticket", "operator": op, **t, **tier, **section, **q, **p, **scope, **period},
    st.sampled_from(["bought", "not_bought"]), _optional("ticket_type", ["vip", "General"]),
    _optional("tier", ["GOLD", "silver"]), _optional("section", ["balcony"]),
    _optional("quantity_at_least", [1, 2, 3, 5]), _optional("price_at_least", [0, 49.99, 50, 10.5]),
    scope_st,
    st.sampled_from([{}, {"from": "2026-05-02T12:00:00+00:00"}, {"to": "2026-06-01"},
                     {"from": "2026-05-01", "to": "2026-06-01T12:00:00+00:00"}]))

day_ops = st.one_of(
    st.builds(lambda op, v: {"type": "days_until_next_event", "operator": op, "value": v},
              st.sampled_from(["<", "<=", "=", ">=", ">"]), st.sampled_from([0, 1, 2, 3, 30])),
    st.builds(lambda pair: {"type": "days_until_next_event", "operator": "between", "value": list(pair)},
              st.sampled_from([(0, 0), (0, 1), (1, 3), (2, 29), (3, 30)])))

leaf_st = st.one_of(
    ticket_st,
    st.builds(lambda op, scope: {"type": "upcoming_event", "operator": op, **scope},
              st.sampled_from(["holds", "holds_not"]), venue_or_tag_st),
    day_ops,
    st.builds(lambda op, scope, period: {"type": "attendance", "operator": op, **scope, **period},
              st.sampled_from(["attended", "no_show"]), st.one_of(st.just({}), st.builds(lambda e: {"event": e},
                                                                                      event_ref)),
              st.sampled_from([{}, {"from": "2026-05-01T12:00:00+00:00"}, {"to": "2026-05-31"},
                               {"from": "2025-01-01", "to": "2026-06-01T12:00:00+00:00"}])),
    st.builds(lambda op, v, months: {"type": "attendance_rate", "operator": op, "value": v, **months},
              st.sampled_from(["=", "!=", ">", ">=", "<", "<="]), st.sampled_from([0, 33, 50, 67, 100]),
              _optional("within_last_months", [1, 12])),
    st.builds(lambda op, n, scope, months: {"type": "attended_events", "operator": op, "value": n, **scope, **months},
              st.sampled_from(["at_least", "at_most", "exactly"]), st.integers(0, 3), venue_or_tag_st,
              _optional("within_last_months", [1, 12, 24])),
    st.builds(lambda op, v: {"type": "purchased_event", "operator": op, "value": v},
              st.sampled_from(["id", "name_contains"]), st.sampled_from(["ev0", "Show"])),
)


def group_st(depth: int = 1):
    items = leaf_st if depth >= 2 else st.one_of(leaf_st, st.deferred(lambda: group_st(depth + 1)))
    return st.builds(lambda match, conds: {"match": match, "conditions": conds},
                     st.sampled_from(["all", "any"]), st.lists(items, min_size=1, max_size=3))


def _events(tenant_id: int, raw_events: list[dict]) -> list[EventFacts]:
    facts = []
    for i, raw in enumerate(raw_events):
        event = Event(tenant_id=tenant_id, external_id=f"ev{i}", name=f"Show {i}", starts_at=raw["starts"],
                      status=raw["status"], venue_name=raw["venue"], sequence=0,
                      settled_at=NOW - timedelta(days=1) if raw["settled"] else None)
        db.session.add(event)
        db.session.flush()
        if raw["tags"]:
            db.session.execute(insert(EventTag), [{"event_id": event.id, "kind": k, "value": v, "tenant_id": tenant_id}
                                                  for k, v in raw["tags"]])
        facts.append(EventFacts(id=event.id, external_id=event.external_id, name=event.name,
                                starts_at=raw["starts"], status=raw["status"], venue_name=raw["venue"],
                                settled=raw["settled"], tags=set(raw["tags"])))
    return facts


def _load(tenant_id: int, raw_events: list[dict], raw_customers: list[dict]
          ) -> tuple[list[EventFacts], list[CustomerFacts]]:
    db.session.execute(delete(Customer).where(Customer.tenant_id == tenant_id))
    db.session.execute(delete(Event).where(Event.tenant_id == tenant_id))
    events = _events(tenant_id, raw_events)
    people = []
    for i, _ in enumerate(raw_customers):
        customer = Customer(tenant_id=tenant_id, email=f"c{i}@example.com", created_at=NOW)
        db.session.add(customer)
        people.append(customer)
    db.session.flush()
    facts = [CustomerFacts(id=c.id, email=c.email) for c in people]
    for i, raw in enumerate(raw_customers):
        for purchase in raw["purchases"]:
            event = events[purchase["event"]] if purchase["event"] is not None else None
            at = NOW - timedelta(days=purchase["days"], minutes=5)
            activity = CustomerActivity(tenant_id=tenant_id, customer_id=people[i].id, type="purchase",
                                        properties={}, occurred_at=at,
                                        event_id=event.external_id if event else None,
                                        event_name=event.name if event else None)
            db.session.add(activity)
            db.session.flush()
            facts[i].activities.append(ActivityFacts("purchase", at, {}, activity.event_id, activity.event_name,
                                                     event))
            for line in purchase["lines"]:
                guest = line["guest"] if line["guest"] is not None and line["guest"] < len(people) else None
                db.session.add(PurchaseItem(
                    tenant_id=tenant_id, activity_id=activity.id, customer_id=people[i].id,
                    event_id=event.id if event else None, ticket_type=line["ticket_type"], tier=line["tier"],
                    section=line["section"], quantity=line["quantity"], price=line["price"], occurred_at=at,
                    attendee_customer_id=people[guest].id if guest is not None else None))
                ticket = TicketFacts(order=activity.id, occurred_at=at, event=event, ticket_type=line["ticket_type"],
                                     tier=line["tier"], section=line["section"], quantity=line["quantity"],
                                     price=line["price"])
                facts[i].tickets.append(ticket)
                if guest is not None:
                    facts[guest].guest_tickets.append(ticket)
        for index, status in raw["attendance"].items():
            if index >= len(events):
                continue
            event = events[index]
            db.session.add(EventAttendance(event_id=event.id, customer_id=people[i].id, tenant_id=tenant_id,
                                           status=status, scans=1 if status == "attended" else 0,
                                           event_starts_at=event.starts_at))
            facts[i].attendance.append(AttendanceFacts(event, status, event.starts_at))
    db.session.flush()
    return events, facts


def _resolve(item, ids: dict[str, int]):
    """The definition with "E0"-style event references replaced by real ids."""
    if isinstance(item, list):
        return [_resolve(x, ids) for x in item]
    if isinstance(item, dict):
        return {k: (ids[v] if k == "event" and isinstance(v, str) else _resolve(v, ids)) for k, v in item.items()}
    return item


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(raw_events=st.lists(event_st, min_size=EVENT_COUNT, max_size=EVENT_COUNT),
       raw_customers=st.lists(customer_st, min_size=2, max_size=5),
       definitions=st.lists(group_st(), min_size=1, max_size=4))
def test_ticket_and_attendance_conditions_agree_with_the_reference(app, tenant_a, tenant_b, raw_events,
                                                                   raw_customers, definitions):
    try:
        theirs = Event(tenant_id=tenant_b.id, external_id="ev0", name="Show 0", starts_at=NOW + timedelta(days=1),
                       status="on_sale", sequence=0)
        db.session.add(theirs)
        db.session.flush()
        events, facts = _load(tenant_a.id, raw_events, raw_customers)
        ids = {f"E{i}": event.id for i, event in enumerate(events)}
        ids["THEIRS"] = theirs.id
        compiler = Compiler(tenant_a.id, db.engine.dialect.name, NOW)
        for raw in definitions:
            resolved = _resolve(raw, ids)
            group = parse_definition(resolved["conditions"], resolved["match"])
            expected = {c.id for c in facts if matches(group, c, NOW)}
            actual = set(db.session.scalars(compiler.members(group)))
            assert actual == expected, f"{resolved} disagrees: SQL {sorted(actual)} vs reference {sorted(expected)}"
    finally:
        db.session.rollback()
