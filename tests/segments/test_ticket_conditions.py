"""The ticket, event and attendance conditions on plain examples: group buyers, price per
ticket, tag and venue scopes, period edges, attendance and its rate, upcoming events and
the days until the next one (around midnight and a change of the clocks), affinity; what
they match in real time after a purchase; another organisation's events matching nobody."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Customer, CustomerSegmentMember, Event, EventAttendance
from webapp.segments.compiler import Compiler
from webapp.segments.definition import parse_definition
from webapp.services import activities, segments
from webapp.services.events.catalogue import upsert_event

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def event(tenant_id: int, external_id: str, starts_at: datetime | None, **fields: Any) -> Event:
    data = {"external_id": external_id, "name": fields.pop("name", external_id.title()), **fields}
    if starts_at is not None:
        data["starts_at"] = starts_at.isoformat()
    return upsert_event(tenant_id, data).event


def purchase(tenant_id: int, email: str, order_id: str, event_id: str | None, items: list[dict],
             at: datetime = NOW - timedelta(days=3)) -> None:
    properties: dict[str, Any] = {"order_total": 10, "order_id": order_id, "items": items}
    if event_id is not None:
        properties["event"] = {"id": event_id}
    activities.record_activity(tenant_id, "purchase", customer={"email": email}, properties=properties,
                               occurred_at=at)


def attend(tenant_id: int, email: str, show: Event, status: str, *, settle: bool = True) -> None:
    customer = db.session.scalar(select(Customer).where(Customer.tenant_id == tenant_id, Customer.email == email))
    if customer is None:
        customer = Customer(tenant_id=tenant_id, email=email)
        db.session.add(customer)
        db.session.flush()
    db.session.add(EventAttendance(event_id=show.id, customer_id=customer.id, tenant_id=tenant_id, status=status,
                                   scans=int(status == "attended"), event_starts_at=show.starts_at))
    if settle:
        show.settled_at = show.starts_at or NOW
    db.session.commit()


def matching(tenant_id: int, *conditions: dict, now: datetime = NOW) -> set[str]:
    group = parse_definition(list(conditions))
    ids = select(Customer.email).where(Customer.id.in_(Compiler(tenant_id, db.engine.dialect.name, now)
                                                       .members(group)))
    return set(db.session.scalars(ids))


# --- bought tickets -------------------------------------------------------------------------

@pytest.fixture
def shows(tenant_a) -> dict[str, Event]:
    return {
        "jazz": event(tenant_a.id, "jazz-1", NOW + timedelta(days=10), name="Late Jazz", venue="Village Vanguard",
                      tags={"genre": "Jazz", "artist": ["Nina Simone"]}),
        "rock": event(tenant_a.id, "rock-1", NOW + timedelta(days=20), name="Loud Night", venue="Blue Note",
                      tags={"genre": "Rock"}),
    }


def test_group_buyers_add_up_the_matching_lines_of_one_order(tenant_a, shows):
    purchase(tenant_a.id, "ann@x.com", "o1", "jazz-1", [{"ticket_type": "VIP", "quantity": 2},
                                                         {"ticket_type": "vip", "quantity": 2}])
    purchase(tenant_a.id, "bo@x.com", "o2", "jazz-1", [{"ticket_type": "VIP", "quantity": 2}])
    purchase(tenant_a.id, "bo@x.com", "o3", "jazz-1", [{"ticket_type": "VIP", "quantity": 2}])
    purchase(tenant_a.id, "cy@x.com", "o4", "jazz-1", [{"ticket_type": "VIP", "quantity": 3},
                                                        {"ticket_type": "Standing", "quantity": 1}])
    four = {"type": "ticket", "quantity_at_least": 4}
    assert matching(tenant_a.id, four) == {"ann@x.com", "cy@x.com"}  # two orders of 2 are no group of 4
    assert matching(tenant_a.id, {**four, "ticket_type": "VIP"}) == {"ann@x.com"}  # Cy's 4th is standing
    assert matching(tenant_a.id, {**four, "operator": "not_bought"}) == {"bo@x.com"}


def test_price_at_least_is_the_price_of_one_ticket(tenant_a, shows):
    purchase(tenant_a.id, "ann@x.com", "o1", "jazz-1", [{"ticket_type": "GA", "quantity": 4, "price": 25}])
    purchase(tenant_a.id, "bo@x.com", "o2", "jazz-1", [{"ticket_type": "GA", "quantity": 1, "price": 60}])
    purchase(tenant_a.id, "cy@x.com", "o3", "jazz-1", [{"ticket_type": "GA", "quantity": 1}])  # no price sent
    assert matching(tenant_a.id, {"type": "ticket", "price_at_least": 50}) == {"bo@x.com"}
    assert matching(tenant_a.id, {"type": "ticket", "price_at_least": 25}) == {"ann@x.com", "bo@x.com"}
    assert matching(tenant_a.id, {"type": "ticket", "price_at_least": 60.01}) == set()


def test_type_tier_and_section_compare_ignoring_case(tenant_a, shows):
    purchase(tenant_a.id, "ann@x.com", "o1", "jazz-1", [{"ticket_type": "Seated", "tier": "Early Bird",
                                                         "section": "Balcony"}])
    purchase(tenant_a.id, "bo@x.com", "o2", "jazz-1", [{"ticket_type": "Seated", "tier": "Full price",
                                                        "section": "Stalls"}])
    assert matching(tenant_a.id, {"type": "ticket", "tier": "early bird"}) == {"ann@x.com"}
    assert matching(tenant_a.id, {"type": "ticket", "section": "STALLS"}) == {"bo@x.com"}
    assert matching(tenant_a.id, {"type": "ticket", "ticket_type": "seated", "section": "balcony"}) == {"ann@x.com"}


def test_tickets_scoped_to_an_event_a_tag_or_a_venue(tenant_a, shows):
    purchase(tenant_a.id, "ann@x.com", "o1", "jazz-1", [{"ticket_type": "GA"}])
    purchase(tenant_a.id, "bo@x.com", "o2", "rock-1", [{"ticket_type": "GA"}])
    purchase(tenant_a.id, "cy@x.com", "o3", None, [{"ticket_type": "GA"}])  # a purchase naming no event
    assert matching(tenant_a.id, {"type": "ticket", "event": shows["jazz"].id}) == {"ann@x.com"}
    assert matching(tenant_a.id, {"type": "ticket", "event_tag": {"kind": "genre", "value": "jazz"}}) == {"ann@x.com"}
    assert matching(tenant_a.id, {"type": "ticket", "event_tag": {"kind": "artist", "value": "NINA SIMONE"}}) == {
        "ann@x.com"}
    assert matching(tenant_a.id, {"type": "ticket", "event_tag": {"kind": "artist", "value": "Jazz"}}) == set()
    assert matching(tenant_a.id, {"type": "ticket", "venue": "blue note"}) == {"bo@x.com"}
    assert matching(tenant_a.id, {"type": "ticket"}) == {"ann@x.com", "bo@x.com", "cy@x.com"}


def test_the_period_includes_both_of_its_ends(tenant_a, shows):
    start, end = datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 31, 18, 0, tzinfo=UTC)
    purchase(tenant_a.id, "first@x.com", "o1", "jazz-1", [{"ticket_type": "GA"}], at=start)
    purchase(tenant_a.id, "last@x.com", "o2", "jazz-1", [{"ticket_type": "GA"}], at=end)
    purchase(tenant_a.id, "early@x.com", "o3", "jazz-1", [{"ticket_type": "GA"}], at=start - timedelta(seconds=1))
    purchase(tenant_a.id, "late@x.com", "o4", "jazz-1", [{"ticket_type": "GA"}], at=end + timedelta(seconds=1))
    window = {"type": "ticket", "from": "2026-05-01", "to": end.isoformat()}
    assert matching(tenant_a.id, window) == {"first@x.com", "last@x.com"}


# --- attendance -----------------------------------------------------------------------------

@pytest.fixture
def past(tenant_a) -> list[Event]:
    """Three jazz nights 2, 5 and 14 months back, and a rock night last week."""
    return [event(tenant_a.id, f"past-{i}", NOW - timedelta(days=days), tags={"genre": genre})
            for i, (days, genre) in enumerate([(60, "Jazz"), (150, "jazz"), (420, "Jazz"), (7, "Rock")])]


def test_attended_and_no_show_for_an_event_or_within_a_period(tenant_a, past):
    attend(tenant_a.id, "ann@x.com", past[0], "attended")
    attend(tenant_a.id, "bo@x.com", past[0], "no_show")
    attend(tenant_a.id, "bo@x.com", past[2], "attended")
    assert matching(tenant_a.id, {"type": "attendance", "event": past[0].id}) == {"ann@x.com"}
    assert matching(tenant_a.id, {"type": "attendance", "operator": "no_show", "event": past[0].id}) == {"bo@x.com"}
    assert matching(tenant_a.id, {"type": "attendance"}) == {"ann@x.com", "bo@x.com"}
    last_year = {"type": "attendance", "from": "2025-06-01", "to": "2026-06-01"}
    assert matching(tenant_a.id, last_year) == {"ann@x.com"}  # Bo's visit was 14 months back


def test_the_attendance_rate_reads_settled_events_and_skips_those_with_none(tenant_a, past):
    for show in past[:3]:
        attend(tenant_a.id, "ann@x.com", show, "attended")
    attend(tenant_a.id, "bo@x.com", past[0], "attended")
    attend(tenant_a.id, "bo@x.com", past[1], "no_show")
    attend(tenant_a.id, "bo@x.com", past[2], "no_show")
    attend(tenant_a.id, "cy@x.com", past[3], "attended", settle=False)  # scanned, not settled yet
    db.session.add(Customer(tenant_id=tenant_a.id, email="di@x.com"))  # never held a ticket
    db.session.commit()
    rate = {"type": "attendance_rate", "operator": ">=", "value": 0}
    assert matching(tenant_a.id, rate) == {"ann@x.com", "bo@x.com"}  # Cy and Di have no rate at all
    assert matching(tenant_a.id, {**rate, "operator": "<", "value": 34}) == {"bo@x.com"}  # 1 in 3
    assert matching(tenant_a.id, {**rate, "operator": ">", "value": 33}) == {"ann@x.com", "bo@x.com"}  # 33.3 %
    assert matching(tenant_a.id, {**rate, "operator": "=", "value": 100}) == {"ann@x.com"}
    assert matching(tenant_a.id, {**rate, "operator": "!=", "value": 100}) == {"bo@x.com"}
    # Over the last 3 months only Bo's first night counts: he came.
    assert matching(tenant_a.id, {**rate, "operator": "=", "value": 100, "within_last_months": 3}) == {
        "ann@x.com", "bo@x.com"}


def test_attended_at_least_n_events_of_a_tag_in_the_last_twelve_months(tenant_a, past):
    for show in past:
        attend(tenant_a.id, "ann@x.com", show, "attended")
    attend(tenant_a.id, "bo@x.com", past[0], "attended")
    attend(tenant_a.id, "bo@x.com", past[1], "no_show")
    jazz = {"type": "attended_events", "value": 2, "event_tag": {"kind": "genre", "value": "JAZZ"}}
    assert matching(tenant_a.id, jazz) == {"ann@x.com"}  # two of her three jazz nights in the last year
    assert matching(tenant_a.id, {**jazz, "value": 3}) == set()
    assert matching(tenant_a.id, {**jazz, "value": 3, "within_last_months": 24}) == {"ann@x.com"}
    assert matching(tenant_a.id, {**jazz, "value": 1}) == {"ann@x.com", "bo@x.com"}
    assert matching(tenant_a.id, {**jazz, "operator": "exactly", "value": 1}) == {"bo@x.com"}


# --- upcoming events and the days until the next one ----------------------------------------

def test_upcoming_counts_buyers_and_guests_and_skips_cancelled_and_past_events(tenant_a):
    event(tenant_a.id, "soon", NOW + timedelta(days=2), venue="Blue Note", tags={"genre": "Jazz"})
    event(tenant_a.id, "off", NOW + timedelta(days=2), status="cancelled")
    event(tenant_a.id, "gone", NOW - timedelta(hours=1))
    event(tenant_a.id, "undated", None)
    activities.record_activity(tenant_a.id, "signup", customer={"email": "gus@x.com"})
    purchase(tenant_a.id, "ann@x.com", "o1", "soon", [{"ticket_type": "GA", "quantity": 2,
                                                       "attendee": {"email": "gus@x.com"}}])
    purchase(tenant_a.id, "bo@x.com", "o2", "off", [{"ticket_type": "GA"}])
    purchase(tenant_a.id, "cy@x.com", "o3", "gone", [{"ticket_type": "GA"}])
    purchase(tenant_a.id, "di@x.com", "o4", "undated", [{"ticket_type": "GA"}])
    holds = {"type": "upcoming_event"}
    assert matching(tenant_a.id, holds) == {"ann@x.com", "gus@x.com"}
    assert matching(tenant_a.id, {**holds, "venue": "BLUE NOTE"}) == {"ann@x.com", "gus@x.com"}
    assert matching(tenant_a.id, {**holds, "event_tag": {"kind": "genre", "value": "rock"}}) == set()
    assert matching(tenant_a.id, {**holds, "operator": "holds_not"}) == {"bo@x.com", "cy@x.com", "di@x.com"}


@pytest.mark.parametrize(("ahead", "days"), [
    (timedelta(seconds=1), 0), (timedelta(hours=23, minutes=59, seconds=59), 0), (timedelta(days=1), 1),
    (timedelta(days=2) - timedelta(seconds=1), 1), (timedelta(days=7), 7)])
def test_days_until_the_next_event_count_whole_days_ahead(tenant_a, ahead, days):
    event(tenant_a.id, "next", NOW + ahead)
    event(tenant_a.id, "later", NOW + timedelta(days=40))
    purchase(tenant_a.id, "ann@x.com", "o1", "next", [{"ticket_type": "GA"}])
    purchase(tenant_a.id, "ann@x.com", "o2", "later", [{"ticket_type": "GA"}])
    purchase(tenant_a.id, "bo@x.com", "o3", None, [{"ticket_type": "GA"}])  # holds no event: never matches
    until = {"type": "days_until_next_event"}
    assert matching(tenant_a.id, {**until, "operator": "=", "value": days}) == {"ann@x.com"}
    assert matching(tenant_a.id, {**until, "operator": "<=", "value": days}) == {"ann@x.com"}
    assert matching(tenant_a.id, {**until, "operator": "<", "value": days}) == set()
    assert matching(tenant_a.id, {**until, "operator": ">", "value": days}) == set()  # the next one decides
    assert matching(tenant_a.id, {**until, "operator": "between", "value": [days, days + 1]}) == {"ann@x.com"}
    assert matching(tenant_a.id, {**until, "operator": ">=", "value": 0}) == {"ann@x.com"}


def test_days_until_cross_midnight_and_a_change_of_the_clocks_by_the_hour(tenant_a):
    """London moves to summer time at 01:00 UTC on 29 March 2026: a show at 19:30 on the
    30th is 2 whole days (48 hours) after 18:30 UTC on the 28th, though the local clock
    moved 49 hours; one minute before midnight and one minute after read alike."""
    event(tenant_a.id, "spring", datetime(2026, 3, 30, 18, 30, tzinfo=UTC), timezone="Europe/London")
    purchase(tenant_a.id, "ann@x.com", "o1", "spring", [{"ticket_type": "GA"}],
             at=datetime(2026, 3, 1, tzinfo=UTC))
    until = {"type": "days_until_next_event", "operator": "="}
    assert matching(tenant_a.id, {**until, "value": 2}, now=datetime(2026, 3, 28, 18, 30, tzinfo=UTC)) == {"ann@x.com"}
    assert matching(tenant_a.id, {**until, "value": 1}, now=datetime(2026, 3, 28, 18, 31, tzinfo=UTC)) == {"ann@x.com"}
    before, after = datetime(2026, 3, 28, 23, 59, tzinfo=UTC), datetime(2026, 3, 29, 0, 1, tzinfo=UTC)
    assert matching(tenant_a.id, {**until, "value": 1}, now=before) == matching(
        tenant_a.id, {**until, "value": 1}, now=after) == {"ann@x.com"}


# --- real time, tenancy, time-relative --------------------------------------------------------

def members(segment_id: int) -> set[str]:
    return set(db.session.scalars(select(Customer.email).join(
        CustomerSegmentMember, CustomerSegmentMember.customer_id == Customer.id)
        .where(CustomerSegmentMember.segment_id == segment_id)))


def test_a_purchase_with_line_items_moves_its_buyer_and_guest_at_once(tenant_a):
    event(tenant_a.id, "gala", datetime(2099, 1, 1, 20, 0, tzinfo=UTC), tags={"series": "Galas"})
    activities.record_activity(tenant_a.id, "signup", customer={"email": "gus@x.com"})
    vip = segments.create_segment(tenant_a.id, "VIP buyers", [{"type": "ticket", "tier": "vip"}])
    going = segments.create_segment(tenant_a.id, "Going to a gala", [
        {"type": "upcoming_event", "event_tag": {"kind": "series", "value": "galas"}}])
    assert members(vip.id) == members(going.id) == set()
    purchase(tenant_a.id, "ann@x.com", "o1", "gala", [{"ticket_type": "Seated", "tier": "VIP", "quantity": 2,
                                                       "attendee": {"email": "gus@x.com"}}])
    assert members(vip.id) == {"ann@x.com"}
    assert members(going.id) == {"ann@x.com", "gus@x.com"}  # no recalculation: the purchase moved both


def test_another_organisations_event_or_tag_matches_nobody(tenant_a, tenant_b):
    theirs = event(tenant_b.id, "shared-id", NOW + timedelta(days=3), venue="Their Hall", tags={"genre": "Secret"})
    event(tenant_a.id, "shared-id", NOW + timedelta(days=3))
    purchase(tenant_a.id, "ann@x.com", "o1", "shared-id", [{"ticket_type": "GA"}])
    attend(tenant_a.id, "ann@x.com", event(tenant_a.id, "old", NOW - timedelta(days=9)), "attended")
    assert matching(tenant_a.id, {"type": "ticket", "event": theirs.id}) == set()
    assert matching(tenant_a.id, {"type": "ticket", "event_tag": {"kind": "genre", "value": "secret"}}) == set()
    assert matching(tenant_a.id, {"type": "upcoming_event", "venue": "Their Hall"}) == set()
    assert matching(tenant_a.id, {"type": "attendance", "event": theirs.id}) == set()
    assert matching(tenant_a.id, {"type": "ticket", "operator": "not_bought", "event": theirs.id}) == {"ann@x.com"}


@pytest.mark.parametrize(("item", "relative"), [
    ({"type": "ticket", "from": "2026-01-01"}, False),
    ({"type": "attendance", "event": 3}, False),
    ({"type": "attendance_rate", "operator": ">=", "value": 50}, False),
    ({"type": "attendance_rate", "operator": ">=", "value": 50, "within_last_months": 6}, True),
    ({"type": "attended_events", "value": 2}, True),
    ({"type": "upcoming_event"}, True),
    ({"type": "days_until_next_event", "operator": "<=", "value": 7}, True)])
def test_the_clock_alone_moves_only_the_time_relative_ones(item, relative):
    assert parse_definition([item]).is_time_relative is relative
