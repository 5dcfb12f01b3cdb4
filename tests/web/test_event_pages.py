"""The Events pages: upcoming and past events with what they sold and who came, an event's
page with its ticket types, holders and the campaigns and workflows that touched it, the
customer's upcoming tickets, and another tenant's event answering 404."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import CampaignAttribution, Event, EventAttendance, Tenant
from webapp.services import workflows
from webapp.services.activities import record_activity
from webapp.services.campaigns import create_campaign
from webapp.services.events.catalogue import upsert_event

from .conftest import make_customer


def _iso(days: float, hour: int = 19) -> str:
    moment = (utcnow() + timedelta(days=days)).replace(hour=hour, minute=30, second=0, microsecond=0)
    return moment.isoformat()


def _event(tenant_id: int, external_id: str, name: str, days: float, **fields) -> Event:
    return upsert_event(tenant_id, {"external_id": external_id, "name": name, "starts_at": _iso(days), **fields}).event


def _buy(tenant_id: int, email: str, event: Event, order_id: str, total: float, items: list[dict] | None = None,
         **customer):
    customer_id = make_customer(tenant_id, email, **customer).id
    properties = {"order_total": total, "order_id": order_id, "event": {"id": event.external_id}}
    if items is not None:
        properties["items"] = items
    activity, _ = record_activity(tenant_id, "purchase", customer_id=customer_id, properties=properties,
                                  occurred_at=utcnow() - timedelta(days=1))
    return customer_id, activity


def _came(tenant_id: int, event: Event, customer_id: int, status: str) -> None:
    db.session.add(EventAttendance(event_id=event.id, customer_id=customer_id, tenant_id=tenant_id, status=status,
                                   scans=1 if status == "attended" else 0, event_starts_at=event.starts_at))
    db.session.commit()


@pytest.fixture
def season(tenant_a):
    """Tenant A (London, euros): an upcoming show in Berlin with line items and a capacity, a
    show in London next month, and a past show with settled attendance."""
    tenant = db.session.get(Tenant, tenant_a.id)
    tenant.timezone, tenant.currency = "Europe/London", "EUR"
    db.session.commit()
    berlin = _event(tenant_a.id, "evt-berlin", "Nils Frahm live", 10, timezone="Europe/Berlin", capacity=1000,
                    venue={"name": "Philharmonie", "city": "Berlin"}, url="https://tickets.example.com/evt-berlin",
                    tags={"genre": "Classical", "artist": ["Nils Frahm"], "series": "Piano Days"})
    london = _event(tenant_a.id, "evt-london", "Late-night jazz", 30, venue={"name": "Jazz Cafe", "city": "London"})
    past = _event(tenant_a.id, "evt-past", "Spring gala", -20, venue={"name": "Royal Hall", "city": "London"},
                  capacity=200)
    ada, _ = _buy(tenant_a.id, "ada@example.com", berlin, "B-1", 150.0, first_name="Ada", last_name="Lovelace",
                  items=[{"ticket_type": "Seated", "tier": "Early bird", "section": "A", "seat": "12", "quantity": 2,
                          "price": 60},
                         {"ticket_type": "Standing", "quantity": 1, "price": 30}])
    grace, _ = _buy(tenant_a.id, "grace@example.com", berlin, "B-2", 60.0, first_name="Grace",
                    items=[{"ticket_type": "Standing", "quantity": 2, "price": 30}])
    _buy(tenant_a.id, "linus@example.com", london, "L-1", 40.0)
    came = [_buy(tenant_a.id, f"fan{i}@example.com", past, f"P-{i}", 25.0)[0] for i in range(4)]
    for customer_id in came[:3]:
        _came(tenant_a.id, past, customer_id, "attended")
    _came(tenant_a.id, past, came[3], "no_show")
    return {"berlin": berlin.id, "london": london.id, "past": past.id, "ada": ada, "grace": grace}


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr class="event-row">(.*?)</tr>', html, re.S)


def test_upcoming_events_soonest_first_with_their_figures(owner_a, season):
    html = owner_a.get("/events/").get_data(as_text=True)

    rows = _rows(html)
    assert [re.search(r'class="event-name"[^>]*>([^<]+)<', r).group(1) for r in rows] == [
        "Nils Frahm live", "Late-night jazz"]
    berlin = rows[0]
    assert "5 <span class=\"muted\">of 1,000</span>" in berlin  # tickets sold of the capacity
    assert re.search(r'data-testid="buyers">2<', berlin)
    assert "€210.00" in berlin  # revenue in the tenant's currency
    assert "On sale" in berlin and "Philharmonie, Berlin" in berlin
    assert "Spring gala" not in html


def test_times_are_on_the_venues_clock_with_its_zone_when_not_the_organisations(owner_a, season):
    html = owner_a.get("/events/").get_data(as_text=True)
    berlin, london = _rows(html)
    event = db.session.get(Event, season["berlin"])
    from zoneinfo import ZoneInfo

    local = event.starts_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert f"{local:%H:%M} {local.tzname()}" in berlin  # "20:30 CET": the venue's clock, its zone named
    london_event = db.session.get(Event, season["london"])
    london_local = london_event.starts_at.astimezone(ZoneInfo("Europe/London"))
    assert f"{london_local:%H:%M}</time>" in london  # the organisation's own zone needs no name


def test_past_events_latest_first_with_attendance(owner_a, season, tenant_a):
    _event(tenant_a.id, "evt-older", "Winter ball", -60)

    html = owner_a.get("/events/?when=past").get_data(as_text=True)

    rows = _rows(html)
    assert "Spring gala" in rows[0] and "Winter ball" in rows[1]
    assert "75% came" in rows[0]
    assert "No scans" in rows[1]
    assert "Nils Frahm" not in html


def test_a_settled_event_where_everyone_came_reads_as_a_rate(owner_a, tenant_a):
    event = _event(tenant_a.id, "evt-full", "Full house", -3)
    fan, _ = _buy(tenant_a.id, "fan@example.com", event, "F-1", 20)
    _came(tenant_a.id, event, fan, "attended")
    html = owner_a.get("/events/?when=past").get_data(as_text=True)
    assert "1 scanned in" in html  # not settled yet: the scans so far

    event.settled_at = utcnow()
    db.session.commit()

    assert "100% came" in owner_a.get("/events/?when=past").get_data(as_text=True)


def test_event_lists_page_with_a_more_link(owner_a, tenant_a):
    for i in range(27):
        _event(tenant_a.id, f"evt-{i}", f"Show {i:02d}", 1 + i)

    first = owner_a.get("/events/").get_data(as_text=True)
    assert len(_rows(first)) == 25
    more = re.search(r'<p class="load-more"><a class="button" href="([^"]+)">More upcoming events</a>', first)
    assert more, "no More link under a full page"
    second = owner_a.get(more.group(1).replace("&amp;", "&")).get_data(as_text=True)

    assert [re.search(r'>(Show \d+)<', r).group(1) for r in _rows(second)] == ["Show 25", "Show 26"]
    assert "More upcoming events" not in second
    # A cursor from nowhere shows the first page rather than an error.
    assert len(_rows(owner_a.get("/events/?cursor=bm9wZQ").get_data(as_text=True))) == 25


def test_a_tenant_without_events_is_told_where_they_come_from(owner_a):
    html = owner_a.get("/events/").get_data(as_text=True)

    assert "No events yet" in html and "POST /api/crm/events" in html
    assert 'href="/api/crm/openapi.json"' in html
    assert "status-tabs" not in html


def test_an_empty_tab_points_to_the_other(owner_a, tenant_a):
    _event(tenant_a.id, "evt-old", "Last year's gala", -300)

    html = owner_a.get("/events/").get_data(as_text=True)

    assert "No upcoming events" in html and 'href="/events/?when=past"' in html


def test_the_event_page_shows_when_where_figures_and_ticket_types(owner_a, season):
    html = owner_a.get(f"/events/{season['berlin']}").get_data(as_text=True)

    assert "<h1>Nils Frahm live" in html and "On sale" in html
    assert "Philharmonie, Berlin" in html and "Europe/Berlin" in html
    for chip in ("Classical", "Nils Frahm", "Piano Days"):
        assert f'<span class="tag">{chip}</span>' in html
    assert 'href="https://tickets.example.com/evt-berlin"' in html
    assert re.search(r'data-testid="tickets-sold">5 <span class="muted">of 1,000', html)
    assert '<progress class="capacity-bar" max="1000" value="5"' in html
    assert re.search(r'data-testid="buyers">2<', html) and "2 orders" in html
    assert re.search(r'data-testid="revenue">€210.00<', html)
    types = re.search(r'<table class="table ticket-types">(.*?)</table>', html, re.S).group(1)
    cells = [" ".join(re.sub(r"<[^>]+>", "", c).split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", types, re.S)]
    assert cells == ["Standing", "3", "€90.00", "Seated · Early bird", "2", "€120.00"]


def test_the_event_page_lists_holders_with_tickets_and_a_profile_link(owner_a, season):
    html = owner_a.get(f"/events/{season['berlin']}").get_data(as_text=True)

    holders = re.search(r'<table class="table holders">(.*?)</table>', html, re.S).group(1)
    assert f'href="/customers/{season["ada"]}">ada@example.com</a>' in holders
    ada_row = re.search(r'<tr class="holder-row">\s*<td[^>]*>Ada Lovelace</td>(.*?)</tr>', holders, re.S).group(1)
    assert 'data-label="Tickets">3<' in ada_row
    assert "Seated · Early bird, Standing" in ada_row


def test_attendance_on_a_past_events_page(owner_a, season):
    html = owner_a.get(f"/events/{season['past']}").get_data(as_text=True)

    assert re.search(r'data-testid="attendance">75% came<', html)
    assert "3 attended · 1 no-show" in html
    assert html.count("status-attended") == 3 and html.count("status-no_show") == 1


def test_holders_page_with_a_more_link(owner_a, tenant_a):
    event = _event(tenant_a.id, "evt-big", "Big night", 5)
    for i in range(27):
        _buy(tenant_a.id, f"holder{i:02d}@example.com", event, f"H-{i}", 10)

    first = owner_a.get(f"/events/{event.id}").get_data(as_text=True)
    assert first.count('class="holder-email"') == 25
    more = re.search(r'<a class="button" href="([^"]+)">More holders</a>', first).group(1).replace("&amp;", "&")
    second = owner_a.get(more).get_data(as_text=True)

    assert second.count('class="holder-email"') == 2
    assert "holder00@example.com" in second and "holder26@example.com" not in second


def test_campaigns_and_workflows_that_touched_the_event_link_to_them(owner_a, season, tenant_a):
    flow = workflows.create_workflow(tenant_a.id, {"name": "Berlin welcome", "trigger_type": "purchase",
                                                  "steps": [{"type": "wait", "config": {"days": 1}}]})
    workflows.set_active(tenant_a.id, flow.id, True)
    _, activity = _buy(tenant_a.id, "late@example.com", db.session.get(Event, season["berlin"]), "B-3", 90.0)
    campaign = create_campaign(tenant_a.id, {"name": "Piano Days on sale", "subject": "Hi",
                                             "html_content": "<p>Hi</p>"})
    db.session.add(CampaignAttribution(activity_id=activity.id, tenant_id=tenant_a.id, campaign_id=campaign.id,
                                       customer_id=activity.customer_id, amount=Decimal("90"), touch="click",
                                       touched_at=utcnow()))
    db.session.commit()

    html = owner_a.get(f"/events/{season['berlin']}").get_data(as_text=True)

    touched = re.search(r'data-testid="event-campaigns">(.*?)</ul>', html, re.S).group(1)
    assert f'href="/campaigns/{campaign.id}/report">Piano Days on sale</a>' in touched and "€90.00" in touched
    flows = re.search(r'data-testid="event-workflows">(.*?)</ul>', html, re.S).group(1)
    assert f'href="/workflows/{flow.id}">Berlin welcome</a>' in flows and "1 enrollment<" in flows
    # The other show was touched by neither.
    other = owner_a.get(f"/events/{season['london']}").get_data(as_text=True)
    assert "Piano Days on sale" not in other and "Berlin welcome" not in other
    assert "No campaign is credited" in other and "No workflow has enrolled anyone" in other


def test_a_new_event_page_says_what_comes_next(owner_a, tenant_a):
    event = _event(tenant_a.id, "evt-new", "Just announced", 40)

    html = owner_a.get(f"/events/{event.id}").get_data(as_text=True)

    assert "No one holds a ticket yet" in html and "No tickets sold yet" in html
    assert "Capacity not known" in html and "Not started yet" in html


def test_another_tenants_event_is_a_404(owner_b, owner_a, season):
    for path in (f"/events/{season['berlin']}", f"/events/{season['berlin']}?cursor=x"):
        assert owner_b.get(path).status_code == 404
    assert owner_b.get("/events/99999999999").status_code == 404
    assert "Nils Frahm" not in owner_b.get("/events/").get_data(as_text=True)
    assert owner_a.get(f"/events/{season['berlin']}").status_code == 200


def test_names_from_the_platform_are_escaped(owner_a, tenant_a):
    event = _event(tenant_a.id, "evt-x", "<script>alert(1)</script>", 3, venue={"name": "<b>Hall</b>"},
                   tags={"genre": "<i>rock</i>"})

    for path in ("/events/", f"/events/{event.id}"):
        html = owner_a.get(path).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
        assert "<b>Hall</b>" not in html


def test_the_customer_profile_lists_upcoming_tickets(owner_a, season):
    html = owner_a.get(f"/customers/{season['ada']}").get_data(as_text=True)

    tickets = re.search(r'data-testid="customer-tickets">(.*?)</ul>', html, re.S).group(1)
    assert f'href="/events/{season["berlin"]}">Nils Frahm live</a>' in tickets and "3 tickets" in tickets
    past_buyer = db.session.scalar(select(EventAttendance.customer_id).where(EventAttendance.event_id == season["past"])
                                   .limit(1))
    assert "No tickets for an upcoming event" in owner_a.get(f"/customers/{past_buyer}").get_data(as_text=True)


def test_events_are_in_the_top_bar(owner_a):
    html = owner_a.get("/events/").get_data(as_text=True)

    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', html, re.S).group(1)
    labels = re.findall(r">([A-Za-z]+)</a>", nav)
    assert labels.index("Events") == labels.index("Customers") + 1
    assert 'aria-current="page">Events</a>' in nav


def test_the_list_costs_the_same_queries_for_three_events_or_twenty(owner_a, tenant_a):
    from tests.sql_support import sql_sent

    def statements(path: str) -> int:
        with sql_sent() as seen:
            assert owner_a.get(path).status_code == 200
        return len(seen)

    for i in range(3):
        _event(tenant_a.id, f"evt-few-{i}", f"Few {i}", 1 + i)
        _buy(tenant_a.id, f"few{i}@example.com", db.session.scalar(select(Event).where(
            Event.external_id == f"evt-few-{i}")), f"FEW-{i}", 10)
    few = statements("/events/")
    for i in range(17):
        event = _event(tenant_a.id, f"evt-many-{i}", f"Many {i}", 5 + i)
        _buy(tenant_a.id, f"many{i}@example.com", event, f"MANY-{i}", 10)

    assert statements("/events/") == few  # one grouped query per figure, whatever the rows


HOSTILE = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@HOSTILE
@given(cursor=st.one_of(st.text(max_size=300), st.text(alphabet="ABCDEFGHabcdefgh0123456789-_=", max_size=400),
                        st.sampled_from(["W10", "WyIiLDFd", "WyJ4IiwtMV0", "WyIyMDI2LTAxLTAxIiwxZTMwMF0",
                                         "WyI5OTk5OTktMDEtMDEiLDFd", "x" * 5000])),
       when=st.sampled_from(["upcoming", "past", "", "PAST", "\u202e"]))
def test_hostile_cursors_and_tabs_never_break_the_pages(owner_a, season, cursor, when):
    from urllib.parse import urlencode

    for path in ("/events/", f"/events/{season['berlin']}"):
        response = owner_a.get(f"{path}?{urlencode({'cursor': cursor, 'when': when})}")

        assert response.status_code in (200, 400), (path, cursor, response.status_code)


def test_the_event_page_counts_its_waitlist_and_warns_when_no_workflow_sends_offers(owner_a, season, tenant_a):
    from webapp.services.events.waitlist import join, waitlist_of

    event = db.session.get(Event, season["berlin"])
    empty = owner_a.get(f"/events/{event.id}").get_data(as_text=True)
    assert "Nobody is waiting" in empty and "/w/" not in empty  # reading the page makes no waitlist

    waitlist_of(event)
    join(tenant_a.id, event, make_customer(tenant_a.id, "fan@example.com", first_name="<b>Fan</b>").id)
    join(tenant_a.id, event, make_customer(tenant_a.id, "two@example.com").id, quantity=2)
    db.session.commit()
    html = owner_a.get(f"/events/{event.id}").get_data(as_text=True)

    assert re.search(r'data-testid="waitlist-counts">2 waiting · 0 with an open offer', html)
    assert 'data-testid="waitlist-no-workflow"' in html and "/w/" in html

    workflow = workflows.create_workflow(tenant_a.id, {"name": "Offers", "trigger_type": "waitlist_offer",
                                                       "steps": [{"type": "add_tag", "config": {"tag": "offered"}}]})
    workflows.set_active(tenant_a.id, workflow.id, True)
    assert 'data-testid="waitlist-no-workflow"' not in owner_a.get(f"/events/{event.id}").get_data(as_text=True)
