"""The attendance conditions read what scans and settlement write: a scan moves its customer
into an "attended" segment at once; settling the show finds the segments that read
attendance (the rate, no-shows) and their recalculation puts each holder where they belong."""

from __future__ import annotations

from tests.events.attendance_support import DUE, buy, create_show, scan
from webapp.extensions import db
from webapp.models import Customer, CustomerSegmentMember
from webapp.services import segments
from webapp.services.events.attendance import segments_reading, settle_ended_events


def members(segment_id: int) -> set[str]:
    db.session.expire_all()
    return set(db.session.scalars(db.select(Customer.email).join(
        CustomerSegmentMember, CustomerSegmentMember.customer_id == Customer.id)
        .where(CustomerSegmentMember.segment_id == segment_id)))


def test_scans_and_settlement_move_customers_through_the_attendance_conditions(api, tenant_a):
    show = create_show(api, tags={"genre": "Ambient"})
    buy(api, "ada@example.com", "o-1")
    buy(api, "ben@example.com", "o-2")
    came = segments.create_segment(tenant_a.id, "Came", [{"type": "attendance", "event": show["id"]}])
    missed = segments.create_segment(tenant_a.id, "Missed", [
        {"type": "attendance", "operator": "no_show", "event": show["id"]}])
    reliable = segments.create_segment(tenant_a.id, "Reliable", [
        {"type": "attendance_rate", "operator": ">=", "value": 100}])
    fans = segments.create_segment(tenant_a.id, "Ambient fans", [
        {"type": "attended_events", "value": 1, "event_tag": {"kind": "genre", "value": "ambient"},
         "within_last_months": 1200}])

    assert scan(api, "ada@example.com", ticket="T-1").status_code == 201
    assert members(came.id) == members(fans.id) == {"ada@example.com"}  # the scan's own transaction
    assert members(reliable.id) == set()  # no settled event yet: no rate

    settle_ended_events(now=DUE)
    reading = set(segments_reading(tenant_a.id, "event_attendance"))
    assert {came.id, missed.id, reliable.id, fans.id} <= reading
    for segment_id in sorted(reading):  # what the queued recalculation jobs do
        segments.calculate_segment(tenant_a.id, segment_id)
    assert members(missed.id) == {"ben@example.com"}
    assert members(reliable.id) == {"ada@example.com"}
    assert members(came.id) == {"ada@example.com"}
