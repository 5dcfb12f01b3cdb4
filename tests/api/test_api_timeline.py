"""GET /api/crm/customers/{id}/timeline: newest first, filters, stable keyset pages."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from api_assertions import assert_error, walk_pages

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def make_customer(api) -> int:
    return api.post("/customers", json={"email": "ann@x.com"}).get_json()["id"]


def log(api, customer_id: int, activity_type: str, at: datetime, **properties) -> dict:
    response = api.post("/activities", json={"customer_id": customer_id, "type": activity_type,
                                             "occurred_at": at.isoformat(), "properties": properties})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def seed(api, customer_id: int) -> list[dict]:
    """Ten activities a day apart, in a mixed order of types."""
    kinds = ["signup", "page_view", "purchase", "note", "page_view",
             "purchase", "note", "page_view", "purchase", "note"]
    rows = []
    for day, kind in enumerate(kinds):
        props = {"order_total": 10 + day, "order_id": f"o-{day}"} if kind == "purchase" else {}
        rows.append(log(api, customer_id, kind, START + timedelta(days=day), **props))
    return rows


def ids(items) -> list[int]:
    return [a["id"] for a in items]


def test_timeline_is_newest_first(api):
    customer_id = make_customer(api)
    rows = seed(api, customer_id)

    data = api.get(f"/customers/{customer_id}/timeline").json["data"]

    assert ids(data) == ids(reversed(rows))
    assert [a["occurred_at"] for a in data] == sorted((a["occurred_at"] for a in data), reverse=True)


def test_timeline_orders_by_when_it_happened_not_when_it_arrived(api):
    customer_id = make_customer(api)
    late = log(api, customer_id, "note", START + timedelta(days=5))
    early = log(api, customer_id, "note", START)  # arrives later, happened earlier
    data = api.get(f"/customers/{customer_id}/timeline").json["data"]
    assert ids(data) == [late["id"], early["id"]]


def test_timeline_shows_only_that_customers_activities(api):
    ann = make_customer(api)
    bob = api.post("/customers", json={"email": "bob@x.com"}).get_json()["id"]
    log(api, ann, "note", START)
    mine = log(api, bob, "note", START)
    assert ids(api.get(f"/customers/{bob}/timeline").json["data"]) == [mine["id"]]


def test_timeline_filters_by_one_type(api):
    customer_id = make_customer(api)
    rows = seed(api, customer_id)

    data = api.get(f"/customers/{customer_id}/timeline", query_string={"type": "purchase"}).json["data"]

    assert ids(data) == [a["id"] for a in reversed(rows) if a["type"] == "purchase"]


def test_timeline_filters_by_several_types_as_repeated_parameters(api):
    customer_id = make_customer(api)
    rows = seed(api, customer_id)

    data = api.get(f"/customers/{customer_id}/timeline?type=purchase&type=note").json["data"]

    assert ids(data) == [a["id"] for a in reversed(rows) if a["type"] in ("purchase", "note")]


def test_timeline_filters_by_several_types_separated_by_commas(api):
    customer_id = make_customer(api)
    rows = seed(api, customer_id)

    data = api.get(f"/customers/{customer_id}/timeline?type=purchase,%20signup").json["data"]

    assert ids(data) == [a["id"] for a in reversed(rows) if a["type"] in ("purchase", "signup")]


def test_timeline_filters_by_date_range(api):
    customer_id = make_customer(api)
    rows = seed(api, customer_id)
    since = (START + timedelta(days=2, hours=-1)).isoformat()
    until = (START + timedelta(days=6, hours=-1)).isoformat()

    only_since = api.get(f"/customers/{customer_id}/timeline", query_string={"since": since}).json["data"]
    only_until = api.get(f"/customers/{customer_id}/timeline", query_string={"until": until}).json["data"]
    both = api.get(f"/customers/{customer_id}/timeline",
                   query_string={"since": since, "until": until, "type": "purchase"}).json["data"]

    assert ids(only_since) == ids(reversed(rows[2:]))
    assert ids(only_until) == ids(reversed(rows[:6]))
    assert ids(both) == [rows[5]["id"], rows[2]["id"]]


def test_timeline_date_range_understands_offsets(api):
    customer_id = make_customer(api)
    at_noon_utc = log(api, customer_id, "note", START)
    # 13:30 in Berlin (UTC+1 in January) is after 12:00 UTC.
    after = api.get(f"/customers/{customer_id}/timeline",
                    query_string={"since": "2026-01-01T13:30:00+01:00"}).json["data"]
    before = api.get(f"/customers/{customer_id}/timeline",
                     query_string={"since": "2026-01-01T12:30:00+01:00"}).json["data"]
    assert after == []
    assert ids(before) == [at_noon_utc["id"]]


def test_timeline_with_a_bad_date_is_a_422_naming_it(api):
    customer_id = make_customer(api)
    assert_error(api.get(f"/customers/{customer_id}/timeline", query_string={"since": "last week"}),
                 422, field="since")


def test_timeline_pages_walk_everything_exactly_once(api):
    customer_id = make_customer(api)
    rows = seed(api, customer_id)

    pages = walk_pages(api, f"/customers/{customer_id}/timeline", limit=3)

    assert [len(p) for p in pages] == [3, 3, 3, 1]
    assert [a["id"] for p in pages for a in p] == ids(reversed(rows))


def test_timeline_pages_keep_ties_on_the_same_instant_in_id_order(api):
    customer_id = make_customer(api)
    rows = [log(api, customer_id, "note", START, n=i) for i in range(5)]

    pages = walk_pages(api, f"/customers/{customer_id}/timeline", limit=2)

    assert [a["id"] for p in pages for a in p] == sorted(ids(rows), reverse=True)


def test_timeline_pages_combine_with_a_type_filter(api):
    customer_id = make_customer(api)
    rows = seed(api, customer_id)
    pages = walk_pages(api, f"/customers/{customer_id}/timeline", {"type": "page_view,note"}, limit=2)
    assert [a["id"] for p in pages for a in p] == [a["id"] for a in reversed(rows)
                                                  if a["type"] in ("page_view", "note")]


def test_timeline_pages_stay_stable_when_activities_arrive_between_fetches(api):
    customer_id = make_customer(api)
    rows = seed(api, customer_id)
    path = f"/customers/{customer_id}/timeline"

    first = api.get(path, query_string={"limit": 4}).json
    # New activities arrive while the client pages: newer ones, and a late one dated
    # between the first page and the rest.
    newer = [log(api, customer_id, "note", START + timedelta(days=30 + i)) for i in range(3)]
    second = api.get(path, query_string={"limit": 4, "cursor": first["next_cursor"]}).json
    log(api, customer_id, "note", START + timedelta(days=40))
    third = api.get(path, query_string={"limit": 4, "cursor": second["next_cursor"]}).json

    seen = ids(first["data"]) + ids(second["data"]) + ids(third["data"])
    assert third["next_cursor"] is None
    assert seen == ids(reversed(rows))
    assert not set(seen) & set(ids(newer))


def test_timeline_with_a_tampered_cursor_is_a_422_naming_cursor(api):
    customer_id = make_customer(api)
    seed(api, customer_id)
    path = f"/customers/{customer_id}/timeline"

    def encoded(value) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    for cursor in ["garbage!", "%%%", encoded([1]), encoded({"a": 1}), encoded(["not a date", 3]),
                   encoded(["2026-01-01T00:00:00+00:00", "three"]), encoded([None, None]),
                   encoded([["2026"], 1]), base64.urlsafe_b64encode(b"\xff\xfe").decode()]:
        assert_error(api.get(path, query_string={"cursor": cursor}), 422, field="cursor")


def test_timeline_limit_is_capped_at_200(api):
    customer_id = make_customer(api)
    assert api.get(f"/customers/{customer_id}/timeline", query_string={"limit": 200}).status_code == 200
    assert_error(api.get(f"/customers/{customer_id}/timeline", query_string={"limit": 201}), 422, field="limit")


def test_timeline_of_a_missing_customer_is_a_404(api):
    assert_error(api.get("/customers/424242/timeline"), 404)


def test_another_tenants_customer_is_a_404_with_or_without_filters_and_an_empty_one_of_ours_is_a_200(api, api_b):
    """The tenant's wall is in the timeline's query: another tenant's busy customer shows
    nothing and is a 404 (never their rows, never an empty 200); ours with nothing in the
    filter's range, or with no activities yet, is an empty page."""
    theirs = api_b.post("/customers", json={"email": "zed@x.com"}).get_json()["id"]
    seed(api_b, theirs)
    ours = make_customer(api)
    for query in ({}, {"type": "note"}, {"limit": 1}, {"since": "2026-01-03T00:00:00Z"}):
        assert_error(api.get(f"/customers/{theirs}/timeline", query_string=query), 404)
        empty = api.get(f"/customers/{ours}/timeline", query_string=query)
        assert empty.status_code == 200 and empty.get_json() == {"data": [], "next_cursor": None}
    seed(api, ours)
    assert api.get(f"/customers/{ours}/timeline", query_string={"since": "2027-01-01T00:00:00Z"}).get_json()[
        "data"] == []


def test_a_timeline_page_takes_two_statements_the_token_and_the_page(api):
    """The token is read by its own columns (the tenant's row is not loaded: the page needs
    only its id) and the page by one keyset query; the customer is looked up only for an
    empty page. The second request is measured, after the token's once-a-minute last_used_at."""
    from tests.sql_support import sql_sent

    customer_id = make_customer(api)
    seed(api, customer_id)
    assert api.get(f"/customers/{customer_id}/timeline?limit=3").status_code == 200
    with sql_sent() as sent:
        response = api.get(f"/customers/{customer_id}/timeline?limit=3")
    assert response.status_code == 200 and len(response.get_json()["data"]) == 3
    reads = [s for s in sent if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 2, sent
    assert "api_tokens" in reads[0] and "tenants" not in reads[0]
    assert "customer_activities" in reads[1]
    assert not [s for s in sent if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))], sent


def test_timeline_moments_are_utc_whatever_the_database_sessions_zone(api, app):
    """On PostgreSQL the page is read through the driver, which gives timestamptz in the
    session's zone: the rows still carry UTC, with the filters and the cursor working on
    the same moments."""
    import pytest
    from sqlalchemy import text

    from webapp.extensions import db
    from webapp.services.timeline import timeline

    customer_id = make_customer(api)
    stored = seed(api, customer_id)
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite has no session time zone")
        db.session.execute(text("SET LOCAL TIME ZONE 'Asia/Kolkata'"))
        first = timeline(api.tenant.id, customer_id, limit=4, since=START + timedelta(days=2))
        second = timeline(api.tenant.id, customer_id, limit=4, since=START + timedelta(days=2),
                          cursor=first.next_cursor)
        db.session.rollback()
    rows = first.items + second.items
    assert all(row.occurred_at.utcoffset() == timedelta(0) == row.created_at.utcoffset() for row in rows)
    expected = sorted(stored[2:], key=lambda a: a["occurred_at"], reverse=True)
    assert [row.id for row in rows] == [a["id"] for a in expected]
    assert [row.occurred_at.isoformat() for row in rows] == [a["occurred_at"] for a in expected]
