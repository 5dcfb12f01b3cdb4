"""Segment pages: the list with Recalculate, the builder with its live preview, the members
page; CSRF, roles and tenancy on every segment route; names escaped."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html import unescape

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import CustomerSegment, CustomerTag
from webapp.services import segments

from .conftest import HX, add_purchase, make_customer, snapshot

SPENT_AND_VIP = [{"type": "total_spent", "operator": ">=", "value": 100}, {"type": "tag", "value": "vip"}]
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def shop_a(tenant_a):
    """Tenant A's customers: two match SPENT_AND_VIP, two have only one of the two."""
    ids = {
        "ada": make_customer(tenant_a.id, "ada@example.com", first_name="Ada", total_spent=150, tags=["vip"]).id,
        "bo": make_customer(tenant_a.id, "bo@example.com", first_name="Bo", total_spent=320, tags=["vip"]).id,
        "cy": make_customer(tenant_a.id, "cy@example.com", first_name="Cy", total_spent=500).id,
        "di": make_customer(tenant_a.id, "di@example.com", first_name="Di", total_spent=20, tags=["vip"]).id,
    }
    return ids


@pytest.fixture
def segment_a(tenant_a, shop_a) -> int:
    return segments.create_segment(tenant_a.id, "Big spenders", SPENT_AND_VIP).id


def builder_data(name: str, conditions, match: str = "all") -> dict:
    return {"name": name, "match": match, "conditions": json.dumps(conditions)}


def segment_count() -> int:
    return db.session.scalar(select(func.count()).select_from(CustomerSegment))


def hidden_conditions(html: str):
    match = re.search(r'<input[^>]*id="segment-conditions"[^>]*value="([^"]*)"', html)
    assert match, "no hidden conditions input"
    return json.loads(unescape(match.group(1)))


# --- the list -----------------------------------------------------------------------------

def test_nav_links_to_the_segments_list(owner_a):
    html = owner_a.get("/dashboard").get_data(as_text=True)

    assert '<a href="/segments/"' in html


def test_empty_list_says_what_to_do_next(owner_a):
    html = owner_a.get("/segments/").get_data(as_text=True)

    assert "No segments yet" in html
    assert "Create your first segment" in html and 'href="/segments/new"' in html


def test_list_shows_name_members_and_last_calculated_in_the_tenant_timezone(owner_a, tenant_a, segment_a):
    from webapp.models import Tenant

    db.session.get(Tenant, tenant_a.id).timezone = "Asia/Tokyo"
    db.session.commit()
    segments.calculate_segment(tenant_a.id, segment_a, now=datetime(2026, 1, 2, 3, 4, tzinfo=UTC))

    html = owner_a.get("/segments/").get_data(as_text=True)

    row = re.search(rf'<tr id="segment-{segment_a}".*?</tr>', html, re.S).group(0)
    assert "Big spenders" in row
    assert re.search(r'data-testid="member-count">2<', row)
    assert "02 Jan 2026, 12:04" in row  # 03:04 UTC in Tokyo
    assert "Recalculate" in row
    assert 'href="/segments/new"' in html


def test_recalculate_over_htmx_swaps_in_the_row_with_the_count_and_the_difference(owner_a, tenant_a, shop_a,
                                                                                  segment_a):
    # Cy gets the tag behind the real-time path's back: only a recalculation notices.
    db.session.add(CustomerTag(customer_id=shop_a["cy"], tenant_id=tenant_a.id, tag="vip"))
    db.session.commit()

    response = owner_a.hx_post(f"/segments/{segment_a}/recalculate")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(f'<tr id="segment-{segment_a}"')
    assert "<html" not in html
    assert re.search(r'data-testid="member-count">3<', html)
    assert '<span class="added">+1</span> / <span class="removed">−0</span>' in html
    assert db.session.get(CustomerSegment, segment_a).member_count == 3


def test_recalculate_without_htmx_redirects_with_the_result(owner_a, segment_a):
    response = owner_a.post(f"/segments/{segment_a}/recalculate")

    assert response.status_code == 302 and response.location.endswith("/segments/")
    assert "Recalculated: 2 members (+0 / −0)" in owner_a.get("/segments/").get_data(as_text=True)

    back = owner_a.post(f"/segments/{segment_a}/recalculate", {"back": "show"})
    assert back.location.endswith(f"/segments/{segment_a}")


# --- the builder ----------------------------------------------------------------------------

def test_builder_carries_the_language_schema_and_suggestions(owner_a, tenant_a, shop_a):
    add_purchase(tenant_a.id, shop_a["ada"], 40, order_id="A-1", event_name="Summer Festival")

    html = owner_a.get("/segments/new").get_data(as_text=True)

    schema = json.loads(re.search(r'<script type="application/json" id="condition-schema">(.*?)</script>',
                                  html, re.S).group(1))
    operators = {t["type"]: [o["value"] for o in t["operators"]] for t in schema["types"]}
    assert operators["total_spent"] == ["=", "!=", ">", ">=", "<", "<="]
    assert "within_last_days" in operators["last_order_at"] and "between" in operators["created_at"]
    assert schema["maxDepth"] == 4
    assert '<datalist id="known-tags"><option value="vip"></datalist>' in html
    assert '<option value="ev-1">Summer Festival</option>' in html
    assert '<option value="Summer Festival">' in html
    assert 'src="/static/js/segment-builder.js"' in html
    assert hidden_conditions(html) == []


def test_saving_a_new_segment_shows_its_members_and_definition(owner_a, shop_a):
    response = owner_a.post("/segments/new", builder_data("Big spenders", SPENT_AND_VIP))

    assert response.status_code == 302
    segment_id = int(re.search(r"/segments/(\d+)$", response.location).group(1))
    html = owner_a.get(f"/segments/{segment_id}").get_data(as_text=True)
    assert "Segment saved: 2 matching customers." in html
    for name in ("ada", "bo"):
        assert f'href="/customers/{shop_a[name]}"' in html
    for name in ("cy", "di"):
        assert f'href="/customers/{shop_a[name]}"' not in html
    assert "Total spent at least 100" in html and "Has tag “vip”" in html
    assert "Customers who match all of these conditions" in html


def test_nested_groups_are_summarised_with_their_match(owner_a, tenant_a, shop_a):
    conditions = [{"type": "total_spent", "operator": ">=", "value": 100},
                  {"match": "any", "conditions": [{"type": "tag", "value": "vip"},
                                                  {"type": "last_order_at", "operator": "within_last_days",
                                                   "value": 30}]}]
    segment = segments.create_segment(tenant_a.id, "Nested", conditions)

    html = owner_a.get(f"/segments/{segment.id}").get_data(as_text=True)

    assert "Any of:" in html
    assert "Last order date in the last 30 days" in html
    assert re.search(r'class="joiner">or<', html) and re.search(r'class="joiner">and<', html)


def test_an_invalid_definition_rerenders_the_builder_with_the_message_beside_its_path(owner_a, shop_a):
    conditions = [{"type": "total_spent", "operator": ">=", "value": 100},
                  {"match": "any", "conditions": [{"type": "tag", "value": "vip"},
                                                  {"type": "orders_count", "operator": ">=", "value": None}]}]

    response = owner_a.post("/segments/new", builder_data("Almost", conditions, "any"))

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'data-error-field="conditions[1].conditions[1].value"' in html
    assert 'data-error-message="must be a number"' in html
    assert "<code>conditions[1].conditions[1].value</code> must be a number" in html
    # Nothing the marketer built is lost.
    assert hidden_conditions(html) == conditions
    assert 'value="Almost"' in html
    assert re.search(r'<option selected value="any">|<option value="any" selected>', html)
    assert segment_count() == 0


def test_a_missing_name_rerenders_with_the_definition_kept(owner_a, shop_a):
    response = owner_a.post("/segments/new", builder_data("  ", SPENT_AND_VIP))

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Give the segment a name." in html
    assert hidden_conditions(html) == SPENT_AND_VIP
    assert segment_count() == 0


def test_an_unreadable_definition_is_an_error_not_a_crash(owner_a):
    response = owner_a.post("/segments/new", {"name": "Broken", "match": "all", "conditions": "[{"})

    assert response.status_code == 422
    assert 'data-error-field="conditions"' in response.get_data(as_text=True)
    assert segment_count() == 0


def test_edit_loads_the_definition_and_saving_recalculates(owner_a, shop_a, segment_a):
    html = owner_a.get(f"/segments/{segment_a}/edit").get_data(as_text=True)
    assert hidden_conditions(html) == SPENT_AND_VIP
    assert 'value="Big spenders"' in html

    only_vip = [{"type": "tag", "operator": "has", "value": "vip"}]
    response = owner_a.post(f"/segments/{segment_a}/edit", builder_data("VIPs", only_vip))

    assert response.status_code == 302 and response.location.endswith(f"/segments/{segment_a}")
    segment = db.session.get(CustomerSegment, segment_a)
    db.session.refresh(segment)
    assert (segment.name, segment.conditions, segment.member_count) == ("VIPs", only_vip, 3)


def test_edit_with_an_invalid_definition_changes_nothing(owner_a, segment_a):
    before = snapshot()

    bad = [{"type": "created_at", "operator": "between", "value": ["2026-02-01", "2026-01-01"]}]
    response = owner_a.post(f"/segments/{segment_a}/edit", builder_data("Renamed", bad))

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'data-error-field="conditions[0].value"' in html and "to must not be before from" in html
    assert hidden_conditions(html) == bad
    assert 'value="Renamed"' in html  # the form keeps what was typed ...
    assert f'<a href="/segments/{segment_a}">Big spenders</a> /' in html  # ... the page what is stored
    assert snapshot() == before


def test_delete_removes_the_segment_and_keeps_its_customers(owner_a, shop_a, segment_a):
    html = owner_a.get(f"/segments/{segment_a}").get_data(as_text=True)
    assert "confirm(" in html and f'action="/segments/{segment_a}/delete"' in html

    response = owner_a.post(f"/segments/{segment_a}/delete")

    assert response.status_code == 302 and response.location.endswith("/segments/")
    assert segment_count() == 0
    assert owner_a.get(f"/customers/{shop_a['ada']}").status_code == 200
    assert owner_a.get(f"/segments/{segment_a}").status_code == 404


def test_members_are_paginated_with_load_more(owner_a, tenant_a):
    for i in range(30):
        make_customer(tenant_a.id, f"fan{i:02d}@example.com", tags=["fan"])
    segment = segments.create_segment(tenant_a.id, "Fans", [{"type": "tag", "value": "fan"}])

    html = owner_a.get(f"/segments/{segment.id}").get_data(as_text=True)
    assert html.count('class="member-row"') == 25
    more = re.search(r'hx-get="(/segments/\d+\?cursor=[^"]+)"', html).group(1)

    rest = owner_a.get(unescape(more), headers=HX)
    assert "HX-Request" in rest.headers["Vary"]
    assert rest.get_data(as_text=True).count('class="member-row"') == 5
    assert "<html" not in rest.get_data(as_text=True)


# --- the live preview -------------------------------------------------------------------------

def test_preview_partial_shows_the_count_and_a_sample(owner_a, shop_a):
    response = owner_a.hx_post("/segments/preview", builder_data("", SPENT_AND_VIP))

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert re.search(r'data-testid="preview-count">2<', html)
    assert "ada@example.com" not in html or "Ada" in html
    assert f'href="/customers/{shop_a["ada"]}"' in html and f'href="/customers/{shop_a["bo"]}"' in html
    assert f'href="/customers/{shop_a["cy"]}"' not in html
    assert "<html" not in html
    assert segment_count() == 0


def test_preview_of_an_empty_builder_invites_a_first_condition(owner_a):
    response = owner_a.hx_post("/segments/preview", builder_data("", []))

    assert response.status_code == 200
    assert "Add a condition to see how many customers match." in response.get_data(as_text=True)


def test_preview_of_an_invalid_definition_names_the_field(owner_a, shop_a):
    conditions = [{"type": "total_spent", "operator": ">>", "value": 100}]

    response = owner_a.hx_post("/segments/preview", builder_data("", conditions))

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'data-error-field="conditions[0].operator"' in html
    assert "is not one of" in html


def test_preview_counts_only_the_marketers_own_tenant(owner_b, shop_a):
    html = owner_b.hx_post("/segments/preview", builder_data("", SPENT_AND_VIP)).get_data(as_text=True)

    assert re.search(r'data-testid="preview-count">0<', html)
    assert "example.com" not in html


# --- CSRF, roles and tenancy on every segment route --------------------------------------------

def segment_posts(segment_id: int) -> list[tuple[str, dict]]:
    """Every state-changing segment route with valid data (so a refusal proves the check)."""
    return [
        ("/segments/new", builder_data("Tagged", [{"type": "tag", "value": "vip"}])),
        (f"/segments/{segment_id}/edit", builder_data("Renamed", [{"type": "tag", "value": "vip"}])),
        (f"/segments/{segment_id}/recalculate", {}),
        (f"/segments/{segment_id}/delete", {}),
        ("/segments/preview", builder_data("", SPENT_AND_VIP)),
        ("/segments/preview/conditions", builder_data("", SPENT_AND_VIP)),
    ]


def test_every_segment_post_is_covered_here(app):
    rules = {(rule.rule, method) for rule in app.url_map.iter_rules() if rule.endpoint.startswith("segments.")
             for method in rule.methods - {"GET", "HEAD", "OPTIONS"}}
    covered = {re.sub(r"/\d+/", "/<int:segment_id>/", path) for path, _ in segment_posts(1)}

    assert {rule for rule, _ in rules} == covered


def test_segment_posts_without_a_valid_csrf_token_are_refused_and_change_nothing(owner_a, segment_a):
    before = snapshot()

    for path, data in segment_posts(segment_a):
        for token in (None, "forged"):
            form = dict(data) if token is None else {**data, "csrf_token": token}
            for headers in ({}, HX):
                response = owner_a.client.post(path, data=form, headers=headers)
                assert response.status_code == 400, f"{path} {token!r} {headers}"
                assert "form expired" in response.get_data(as_text=True)
    assert snapshot() == before


def test_segment_posts_with_the_token_in_the_htmx_header_succeed(owner_a, segment_a):
    for path, data in segment_posts(segment_a):
        response = owner_a.hx_post(path, data)
        assert response.status_code in (200, 302), path


def test_viewers_get_403_on_every_segment_post_and_change_nothing(viewer_a, segment_a):
    before = snapshot()

    for path, data in segment_posts(segment_a):
        assert viewer_a.post(path, data).status_code == 403, path
        assert viewer_a.hx_post(path, data).status_code == 403, path
    assert viewer_a.get("/segments/new").status_code == 403
    assert viewer_a.get(f"/segments/{segment_a}/edit").status_code == 403
    assert snapshot() == before


def test_viewers_read_segments_without_write_controls(viewer_a, owner_a, segment_a):
    owner_pages = owner_a.get("/segments/").get_data(as_text=True) + \
        owner_a.get(f"/segments/{segment_a}").get_data(as_text=True)
    viewer_pages = viewer_a.get("/segments/").get_data(as_text=True) + \
        viewer_a.get(f"/segments/{segment_a}").get_data(as_text=True)

    for marker in ("/segments/new", "/recalculate", "/edit", "/delete", "Recalculate"):
        assert marker in owner_pages, f"control check is stale: {marker}"
        assert marker not in viewer_pages, f"viewer sees {marker}"
    assert "Big spenders" in viewer_pages and "ada@example.com" in viewer_pages


def test_marketers_may_build_segments(marketer_a, shop_a):
    response = marketer_a.post("/segments/new", builder_data("Marketer's", SPENT_AND_VIP))

    assert response.status_code == 302


def test_other_tenants_segment_ids_answer_404_on_every_route_and_change_nothing(owner_b, owner_a, segment_a):
    before = snapshot()
    gets = [f"/segments/{segment_a}", f"/segments/{segment_a}/edit"]
    posts = [(path, data) for path, data in segment_posts(segment_a) if str(segment_a) in path]
    assert len(posts) == 3

    for headers in ({}, HX):
        for path in gets:
            response = owner_b.get(path, headers=headers)
            assert response.status_code == 404, path
            assert "Big spenders" not in response.get_data(as_text=True)
        for path, data in posts:
            response = owner_b.client.post(path, data={**data, "csrf_token": owner_b.csrf()}, headers=headers)
            assert response.status_code == 404, path
            assert "Big spenders" not in response.get_data(as_text=True)
    assert snapshot() == before
    assert "Big spenders" not in owner_b.get("/segments/").get_data(as_text=True)
    # The control: the same URLs work for tenant A.
    for path in gets:
        assert owner_a.get(path).status_code == 200


# --- escaping -----------------------------------------------------------------------------------

def test_a_hostile_segment_name_is_escaped_on_every_page(owner_a, tenant_a, shop_a):
    segment = segments.create_segment(tenant_a.id, HOSTILE, [{"type": "tag", "value": HOSTILE}])
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"

    pages = {
        "list": owner_a.get("/segments/").get_data(as_text=True),
        "show": owner_a.get(f"/segments/{segment.id}").get_data(as_text=True),
        "edit": owner_a.get(f"/segments/{segment.id}/edit").get_data(as_text=True),
        "row": owner_a.hx_post(f"/segments/{segment.id}/recalculate").get_data(as_text=True),
    }

    for page, html in pages.items():
        assert HOSTILE not in html, f"unescaped name on the {page} page"
        assert escaped in html, f"name not shown on the {page} page"


def test_hostile_event_names_and_tags_are_escaped_in_the_suggestions(owner_a, tenant_a, shop_a):
    add_purchase(tenant_a.id, shop_a["ada"], 10, order_id="H-1", event_name='"><img src=x onerror=alert(2)>')

    html = owner_a.get("/segments/new").get_data(as_text=True)

    assert "<img src=x" not in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in html


def test_builder_suggests_only_the_marketers_own_tags_and_events(owner_b, tenant_a, shop_a):
    add_purchase(tenant_a.id, shop_a["ada"], 40, order_id="A-1", event_name="Alpha Gala")

    html = owner_b.get("/segments/new").get_data(as_text=True)

    assert '<datalist id="known-tags"></datalist>' in html
    assert "Alpha Gala" not in html and "ev-1" not in html
