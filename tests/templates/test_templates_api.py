"""/api/crm/templates: starters listed first and read-only, the tenant's templates CRUD,
tenancy walls, and POST /api/crm/campaigns with template_id."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

STARTER_IDS = ["starter:on-sale", "starter:vip-presale", "starter:event-reminder", "starter:thank-you",
               "starter:whats-on"]
DESIGN = {"version": 1, "blocks": [
    {"type": "heading", "text": "Hi {{ customer.first_name | default(\"there\") }}"},
    {"type": "button", "text": "Get tickets", "url": "https://tickets.example.com/"},
    {"type": "footer"}]}


def create(api, **body):
    response = api.post("/templates", json={"name": "Welcome", "design": DESIGN, **body})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_the_list_starts_with_the_five_starters(api):
    data = api.get("/templates").get_json()
    assert [t["id"] for t in data["data"]] == STARTER_IDS
    assert all(t["starter"] is True and t["design"]["blocks"] and "<html" in t["content"] for t in data["data"])
    assert data["next_cursor"] is None


def test_a_created_template_follows_the_starters_and_pages_by_keyset(api):
    made = [create(api, name=f"T{i}")["id"] for i in range(3)]
    first = api.get("/templates?limit=2").get_json()
    assert [t["id"] for t in first["data"]] == STARTER_IDS + made[::-1][:2]
    second = api.get(f"/templates?limit=2&cursor={first['next_cursor']}").get_json()
    assert [t["id"] for t in second["data"]] == [made[0]] and second["next_cursor"] is None
    assert all(t["starter"] is False for t in second["data"])


def test_a_design_template_is_compiled_and_keeps_its_merge_tags(api):
    body = create(api, subject="Hello {{ customer.first_name }}", preheader="Soon")
    assert body["starter"] is False and isinstance(body["id"], int)
    assert body["design"]["blocks"][0]["type"] == "heading"
    assert "Get tickets" in body["content"] and 'customer.first_name | default("there")' in body["content"]
    assert (body["subject"], body["preheader"]) == ("Hello {{ customer.first_name }}", "Soon")
    assert api.get(f"/templates/{body['id']}").get_json() == body


def test_an_html_template_is_checked_like_campaign_content(api):
    made = api.post("/templates", json={"name": "Plain", "content": "<p>Hi {{ customer.first_name }}</p>"})
    assert made.status_code == 201 and made.get_json()["design"] is None
    broken = api.post("/templates", json={"name": "Broken", "content": "<p>{{ customer.first_name </p>"})
    assert broken.status_code == 422 and broken.get_json()["error"]["details"][0]["field"] == "content"


def test_design_and_content_together_or_neither_are_refused(api):
    both = api.post("/templates", json={"name": "x", "design": DESIGN, "content": "<p>x</p>"})
    neither = api.post("/templates", json={"name": "x"})
    assert both.status_code == neither.status_code == 422
    assert both.get_json()["error"]["details"][0]["field"] == "design"


def test_an_invalid_design_is_a_422_naming_the_block(api):
    design = {"version": 1, "blocks": [{"type": "text", "html": "<p>x</p>"},
                                       {"type": "button", "text": "Go", "url": "javascript:alert(1)"}]}
    response = api.post("/templates", json={"name": "x", "design": design})
    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["field"] == "design.blocks[1].url"


def test_patch_renames_and_swaps_design_for_content(api):
    made = create(api)
    renamed = api.patch(f"/templates/{made['id']}", json={"name": "Renamed"}).get_json()
    assert renamed["name"] == "Renamed" and renamed["design"] == made["design"]
    swapped = api.patch(f"/templates/{made['id']}", json={"content": "<p>Plain now</p>"}).get_json()
    assert swapped["design"] is None and swapped["content"] == "<p>Plain now</p>"
    assert api.patch(f"/templates/{made['id']}", json={"name": ""}).status_code == 422


def test_delete_removes_the_template(api):
    made = create(api)
    assert api.delete(f"/templates/{made['id']}").status_code == 204
    assert api.get(f"/templates/{made['id']}").status_code == 404


@pytest.mark.parametrize("starter", STARTER_IDS)
def test_starters_are_readable_but_read_only(api, starter):
    got = api.get(f"/templates/{starter}")
    assert got.status_code == 200 and got.get_json()["starter"] is True
    assert api.patch(f"/templates/{starter}", json={"name": "Mine"}).status_code == 409
    assert api.delete(f"/templates/{starter}").status_code == 409


@pytest.mark.parametrize("bad", ["starter:nope", "starter:", "0", "-1", "99999999999999999999", "abc", "1.5",
                                 "%00", "starter:on-sale%00"])
def test_ids_that_name_no_template_are_404(api, bad):
    assert api.get(f"/templates/{bad}").status_code in (400, 404)
    assert api.patch(f"/templates/{bad}", json={"name": "x"}).status_code in (400, 404)
    assert api.delete(f"/templates/{bad}").status_code in (400, 404)


def test_another_tenants_template_is_a_404_everywhere(api, api_b):
    theirs = create(api_b, name="Bravo only")
    assert api.get(f"/templates/{theirs['id']}").status_code == 404
    assert api.patch(f"/templates/{theirs['id']}", json={"name": "Mine"}).status_code == 404
    assert api.delete(f"/templates/{theirs['id']}").status_code == 404
    assert all(t["id"] != theirs["id"] for t in api.get("/templates").get_json()["data"])
    refused = api.post("/campaigns", json={"name": "x", "subject": "y", "template_id": theirs["id"]})
    assert refused.status_code == 422 and refused.get_json()["error"]["details"][0]["field"] == "template_id"
    assert api_b.get(f"/templates/{theirs['id']}").get_json()["name"] == "Bravo only"


def test_a_campaign_from_a_starter_takes_its_design(api):
    response = api.post("/campaigns", json={"name": "June on-sale", "subject": "On sale!",
                                            "template_id": "starter:on-sale"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    starter = api.get("/templates/starter:on-sale").get_json()
    assert body["design"] == starter["design"] and body["subject"] == "On sale!"
    assert body["preheader"] == starter["preheader"] and body["status"] == "draft"


def test_a_campaign_from_a_template_lets_explicit_content_win(api):
    made = create(api, subject="From the template", preheader="Pre")
    response = api.post("/campaigns", json={"name": "n", "subject": "s", "template_id": made["id"],
                                            "content": "<p>Mine</p>"})
    body = response.get_json()
    assert response.status_code == 201 and body["design"] is None and body["content"] == "<p>Mine</p>"
    assert body["preheader"] == "Pre"


def test_a_campaign_from_an_html_template_takes_its_html(api):
    made = api.post("/templates", json={"name": "Plain", "content": "<p>Plain {{ customer.email }}</p>"}).get_json()
    body = api.post("/campaigns", json={"name": "n", "subject": "s", "template_id": made["id"]}).get_json()
    assert body["design"] is None and body["content"] == "<p>Plain {{ customer.email }}</p>"


@pytest.mark.parametrize("template_id", ["starter:nope", 0, -5, "1" * 120, True, 1.5, [], {}])
def test_a_campaign_with_a_bad_template_id_is_a_422(api, template_id):
    response = api.post("/campaigns", json={"name": "n", "subject": "s", "template_id": template_id})
    assert response.status_code == 422


def test_a_viewer_token_cannot_write_templates(client, tenant_a):
    from webapp.extensions import db
    from webapp.models import Tenant
    from webapp.services.tenants import create_api_token

    _, secret = create_api_token(db.session.get(Tenant, tenant_a.id), "read", "viewer")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/crm/templates", headers=headers).status_code == 200
    assert client.post("/api/crm/templates", json={"name": "x", "content": "<p>x</p>"},
                       headers=headers).status_code == 403


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(st.sampled_from(["name", "design", "content", "subject", "preheader", "extra"]),
                            st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                                         lambda inner: st.lists(inner, max_size=3)
                                         | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                                         max_leaves=10)))
def test_hostile_bodies_get_a_4xx_never_a_500(api, body):
    response = api.post("/templates", json=body)
    assert response.status_code in (201, 400, 409, 422), response.get_json()


def test_deeply_nested_and_huge_designs_are_refused(api):
    deep: dict = {"type": "columns", "columns": [[], []]}
    for _ in range(50):
        deep = {"type": "columns", "columns": [[deep], []]}
    assert api.post("/templates", json={"name": "x", "design": {"version": 1, "blocks": [deep]}}).status_code == 422
    many = {"version": 1, "blocks": [{"type": "spacer"}] * 500}
    assert api.post("/templates", json={"name": "x", "design": many}).status_code == 422
    assert api.post("/templates", json={"name": "x" * 201, "design": DESIGN}).status_code == 422
    assert api.post("/templates", json={"name": "a\u0000b", "design": DESIGN}).status_code == 422
