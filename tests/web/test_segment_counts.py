"""Segment counts beside a definition: how many members can be emailed (the reachable count,
on the list and the segment page), how many customers each top-level condition of the builder
keeps on its own (a JSON endpoint), and "Send a campaign to this segment"."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sql_support import sql_sent
from webapp.extensions import db
from webapp.segments.conditions import CONDITION_TYPES, OPERATORS
from webapp.services import segments

from .conftest import make_customer, snapshot

VIP = [{"type": "tag", "operator": "has", "value": "vip"}]
COUNTS_URL = "/segments/preview/conditions"


@pytest.fixture
def fans(tenant_a) -> dict[str, int]:
    """Five VIPs of tenant A, by hand: two can be emailed (Ada, Eve); Bo unsubscribed, Cy
    bounced, Di complained. Fay is subscribed but no VIP."""
    statuses = {"ada": "subscribed", "bo": "unsubscribed", "cy": "bounced", "di": "complained", "eve": "subscribed"}
    ids = {name: make_customer(tenant_a.id, f"{name}@example.com", first_name=name.title(), tags=["vip"],
                               email_status=status, total_spent=100 * n).id
           for n, (name, status) in enumerate(statuses.items(), 1)}
    ids["fay"] = make_customer(tenant_a.id, "fay@example.com", first_name="Fay", total_spent=900).id
    return ids


@pytest.fixture
def vips(tenant_a, fans) -> int:
    return segments.create_segment(tenant_a.id, "VIPs", VIP).id


def reachable_on(html: str) -> list[str]:
    return re.findall(r'data-testid="reachable-count">([^<]*)<', html)


def member_count_on(html: str) -> list[str]:
    return re.findall(r'data-testid="member-count">([^<]*)<', html)


# --- the reachable count ------------------------------------------------------------------------

def test_list_shows_members_and_the_reachable_count_beside_them(owner_a, vips):
    html = owner_a.get("/segments/").get_data(as_text=True)

    assert member_count_on(html) == ["5"]
    assert reachable_on(html) == ["2"]  # Ada and Eve: unsubscribed, bounced and complained are left out


def test_segment_page_shows_the_reachable_count_and_who_is_left_out(owner_a, vips):
    html = owner_a.get(f"/segments/{vips}").get_data(as_text=True)

    assert member_count_on(html) == ["5"]
    assert reachable_on(html) == ["2"]
    assert "3 unsubscribed, bounced or complained" in html


def test_recalculated_row_keeps_the_reachable_count(owner_a, vips, tenant_a):
    make_customer(tenant_a.id, "gus@example.com", tags=["vip"])

    html = owner_a.hx_post(f"/segments/{vips}/recalculate").get_data(as_text=True)

    assert member_count_on(html) == ["6"]
    assert reachable_on(html) == ["3"]


def test_reachable_count_follows_an_unsubscribe(owner_a, vips, fans):
    from webapp.models import Customer

    db.session.get(Customer, fans["eve"]).email_status = "unsubscribed"
    db.session.commit()

    assert reachable_on(owner_a.get("/segments/").get_data(as_text=True)) == ["1"]


def test_reachable_count_is_what_a_campaign_would_send_to(tenant_a, vips):
    from webapp.services import campaigns
    from webapp.services.segment_counts import reachable_count

    assert reachable_count(tenant_a.id, vips) == campaigns.segment_audience(tenant_a.id, vips) == 2


def test_list_page_reads_kept_reachable_counts_in_one_statement_whatever_the_number_of_segments(owner_a, tenant_a,
                                                                                                vips):
    def statements_for_list() -> tuple[int, int]:
        with sql_sent() as seen:
            assert owner_a.get("/segments/").status_code == 200
        return (sum(1 for sql in seen if "segment_reachable_counts" in sql),
                sum(1 for sql in seen if "customer_segment_members" in sql))

    with_one = statements_for_list()
    for n in range(4):
        segments.create_segment(tenant_a.id, f"Spent {n}", [{"type": "total_spent", "operator": ">=", "value": n}])

    html = owner_a.get("/segments/").get_data(as_text=True)
    # The kept counts, once for the page; the members are never counted.
    assert statements_for_list() == with_one == (1, 0)
    assert sorted(reachable_on(html)) == ["2", "3", "3", "3", "3"]  # VIPs; Ada, Eve and Fay spent


# --- "Send a campaign to this segment" --------------------------------------------------------------

def test_segment_page_offers_a_campaign_to_the_segment(owner_a, viewer_a, vips):
    html = owner_a.get(f"/segments/{vips}").get_data(as_text=True)

    assert re.search(rf'<a class="button primary" href="/campaigns/new\?segment_id={vips}">'
                     r'Send a campaign to this segment</a>', html)
    assert "Send a campaign" not in viewer_a.get(f"/segments/{vips}").get_data(as_text=True)


def test_campaign_editor_opens_with_the_segment_preselected(owner_a, vips):
    html = owner_a.get(f"/campaigns/new?segment_id={vips}").get_data(as_text=True)

    assert re.search(rf'<option selected value="{vips}">VIPs</option>', html)
    # The audience line counts the people it would reach, as the campaign would.
    assert re.search(r"\b2\b[^<]*(people|customers|recipients)", html), html[html.find("audience"):][:400]


@pytest.mark.parametrize("value", ["", "abc", "-1", "0", "99999999999999999999", "<b>1</b>"])
def test_campaign_editor_ignores_a_segment_that_is_not_one_of_the_tenants(owner_a, vips, value):
    response = owner_a.get(f"/campaigns/new?segment_id={value}")

    assert response.status_code == 200
    choices = response.get_data(as_text=True).split('id="segment_id"', 1)[1].split("</select>")[0]
    assert re.findall(r"<option selected[^>]*>", choices) == ['<option selected value="">']


def test_campaign_editor_does_not_preselect_another_tenants_segment(owner_b, vips):
    html = owner_b.get(f"/campaigns/new?segment_id={vips}").get_data(as_text=True)

    assert "VIPs" not in html
    assert f'selected value="{vips}"' not in html


# --- what each top-level condition keeps -------------------------------------------------------------

def counts(marketer, conditions, match: str = "all"):
    return marketer.hx_post(COUNTS_URL, {"conditions": json.dumps(conditions), "match": match})


def test_each_top_level_condition_is_counted_on_its_own(owner_a, fans):
    definition = [
        {"type": "total_spent", "operator": ">=", "value": 300},  # Cy, Di, Eve, Fay
        {"type": "tag", "value": "vip"},  # Ada, Bo, Cy, Di, Eve
        {"match": "any", "conditions": [{"type": "first_name", "operator": "equals", "value": "Ada"},
                                        {"type": "email_status", "operator": "=", "value": "bounced"}]},  # Ada, Cy
        {"type": "email", "operator": "ends_with", "value": "@nowhere.test"},  # nobody
    ]

    response = counts(owner_a, definition)

    assert response.status_code == 200
    assert response.is_json
    assert response.get_json() == {"counts": [4, 5, 2, 0]}
    # "any" or "all" at the top changes the total, not what each condition keeps alone.
    assert counts(owner_a, definition, "any").get_json() == {"counts": [4, 5, 2, 0]}


def test_an_empty_definition_has_no_counts(owner_a):
    assert counts(owner_a, []).get_json() == {"counts": []}


def test_counts_only_the_marketers_own_customers(owner_a, owner_b, tenant_b, fans):
    make_customer(tenant_b.id, "zed@example.com", tags=["vip"], total_spent=5000)

    assert counts(owner_a, [{"type": "tag", "value": "vip"}, {"type": "total_spent", "operator": ">", "value": 0}]
                  ).get_json() == {"counts": [5, 6]}
    assert counts(owner_b, [{"type": "tag", "value": "vip"}, {"type": "total_spent", "operator": ">", "value": 0}]
                  ).get_json() == {"counts": [1, 1]}


@pytest.mark.parametrize(("conditions", "match", "field"), [
    ([{"type": "total_spent", "operator": ">=", "value": "lots"}], "all", "conditions[0].value"),
    ([VIP[0], {"type": "orders_count", "operator": ">="}], "all", "conditions[1].value"),
    ([VIP[0], {"type": "nonsense"}], "all", "conditions[1].type"),
    ([{"match": "any", "conditions": []}], "all", "conditions[0].conditions"),
    (VIP, "most", "match"),
    ("{not json", "all", "conditions"),
])
def test_a_refused_definition_answers_422_json_naming_the_item(owner_a, fans, conditions, match, field):
    before = snapshot()
    body = conditions if isinstance(conditions, str) else json.dumps(conditions)

    response = owner_a.hx_post(COUNTS_URL, {"conditions": body, "match": match})

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["field"] == field
    assert error["message"]
    assert snapshot() == before


def test_counts_need_a_writer_and_a_token(viewer_a, owner_a, fans):
    assert viewer_a.hx_post(COUNTS_URL, {"conditions": json.dumps(VIP)}).status_code == 403
    assert owner_a.client.post(COUNTS_URL, data={"conditions": json.dumps(VIP)}).status_code == 400


def test_a_very_large_tenant_gets_no_per_condition_counts(owner_a, fans, monkeypatch):
    from webapp.services import segment_counts

    monkeypatch.setattr(segment_counts, "CONDITION_COUNT_LIMIT", 5)  # fans has six customers

    assert counts(owner_a, VIP).get_json() == {"counts": None}


# Hostile condition lists: real types with any operator and any JSON value, unknown keys, nesting.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6)
hostile_condition = st.fixed_dictionaries(
    {"type": st.sampled_from(sorted(CONDITION_TYPES)) | st.text(max_size=10)},
    optional={"operator": st.sampled_from(sorted({op for ops in OPERATORS.values() for op in ops})) | json_values,
              "value": json_values, "key": json_values, "activity_type": json_values,
              "within_last_days": json_values, "from": json_values, "to": json_values})
hostile_definition = st.recursive(
    st.lists(hostile_condition, max_size=4),
    lambda inner: st.lists(hostile_condition | st.fixed_dictionaries(
        {"match": st.sampled_from(["all", "any"]) | json_values, "conditions": inner}), max_size=3),
    max_leaves=8) | json_values


@settings(max_examples=120, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(definition=hostile_definition, match=st.sampled_from(["all", "any"]) | st.text(max_size=5))
def test_hostile_conditions_are_counted_or_refused_never_a_5xx(owner_a, fans, definition, match):
    response = owner_a.hx_post(COUNTS_URL, {"conditions": json.dumps(definition), "match": match})

    assert response.status_code in (200, 422), response.get_data(as_text=True)[:500]
    answer = response.get_json()
    if response.status_code == 200:
        assert isinstance(answer["counts"], list)
        assert all(isinstance(n, int) and 0 <= n <= len(fans) for n in answer["counts"])
    else:
        assert answer["error"]["field"].startswith(("conditions", "match")), answer
