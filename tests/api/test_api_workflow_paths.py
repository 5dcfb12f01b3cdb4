"""Paths over JSON: split and wait_for steps, steps added on their paths, listed with
parent_step_id and branch, reordered within a path; enrollments report their path; bad
bodies are 422s naming the field, other tenants' steps 404s."""

from __future__ import annotations

import math
import random

import pytest
from api_assertions import assert_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp.extensions import db
from webapp.models import AutomationStep, Tenant
from webapp.services.workflows.engine import run_due

SPLIT = {"type": "split", "config": {"paths": [{"percent": 30}, {"percent": 70}]}}
WAIT_FOR = {"type": "wait_for", "config": {"activity_type": "ticket_scanned",
                                           "match": {"event": "{{ trigger.event }}"}, "timeout": {"days": 3}}}


def new_workflow(api, steps: list[dict]) -> dict:
    response = api.post("/workflows", json={"name": "Paths", "trigger_type": "purchase", "steps": steps})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def add(api, workflow_id: int, body: dict) -> dict:
    response = api.post(f"/workflows/{workflow_id}/steps", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_steps_on_paths_are_listed_with_their_parent_branch_and_path_name(api):
    workflow = new_workflow(api, [SPLIT, WAIT_FOR])
    split, wait_for = workflow["steps"]
    assert (split["parent_step_id"], split["branch"], split["path"]) == (None, None, None)
    assert split["summary"] == "Split at random: A 30% · B 70%"
    assert wait_for["summary"] == "Wait for ticket scanned for the trigger's event, at most 3 days"

    in_b = add(api, workflow["id"], {"type": "add_tag", "config": {"tag": "b"}, "parent_step_id": split["id"],
                                     "branch": 1})
    assert (in_b["parent_step_id"], in_b["branch"], in_b["path"], in_b["position"]) == (split["id"], 1, "B", 0)
    timed_out = add(api, workflow["id"], {"type": "add_tag", "config": {"tag": "late"},
                                          "parent_step_id": wait_for["id"], "branch": 1})
    assert timed_out["path"] == "timed out"

    listed = api.get(f"/workflows/{workflow['id']}").get_json()["steps"]
    assert [(s["id"], s["parent_step_id"], s["branch"]) for s in listed] == [
        (split["id"], None, None), (in_b["id"], split["id"], 1), (wait_for["id"], None, None),
        (timed_out["id"], wait_for["id"], 1)]
    got = api.get(f"/workflows/{workflow['id']}/steps/{in_b['id']}").get_json()
    assert (got["id"], got["path"]) == (in_b["id"], "B")


def test_reorder_within_a_path(api):
    workflow = new_workflow(api, [SPLIT])
    [split] = workflow["steps"]
    first, second = (add(api, workflow["id"], {"type": "add_tag", "config": {"tag": t}, "parent_step_id": split["id"],
                                               "branch": 0})["id"] for t in ("one", "two"))
    response = api.put(f"/workflows/{workflow['id']}/steps/order",
                       json={"step_ids": [second, first], "parent_step_id": split["id"], "branch": 0})
    assert response.status_code == 200, response.get_json()
    assert [s["id"] for s in response.get_json()["steps"]] == [split["id"], second, first]
    assert_error(api.put(f"/workflows/{workflow['id']}/steps/order", json={"step_ids": [second, first]}), 422,
                 field="step_ids")


@pytest.mark.parametrize(("body", "field"), [
    ({"type": "split", "config": {"paths": [{"percent": 60}, {"percent": 60}]}}, "config.paths"),
    ({"type": "split", "config": {"paths": [{"percent": 100}]}}, "config.paths"),
    ({"type": "split", "config": {"paths": [{"percent": "50"}, {"percent": 50}]}}, "config.paths[0].percent"),
    ({"type": "split", "config": {"paths": [{"percent": 50, "weight": 1}, {"percent": 50}]}},
     "config.paths[0].weight"),
    ({"type": "wait_for", "config": {"activity_type": "Ticket Scanned", "timeout": {"days": 1}}},
     "config.activity_type"),
    ({"type": "wait_for", "config": {"activity_type": "email_opened", "timeout": {"days": 1}}},
     "config.activity_type"),
    ({"type": "wait_for", "config": {"activity_type": "x", "timeout": {"days": 1, "hours": 2}}}, "config.timeout"),
    ({"type": "wait_for", "config": {"activity_type": "x"}}, "config.timeout"),
    ({"type": "wait_for", "config": {"activity_type": "x", "timeout": {"days": 1},
                                     "match": {"event": "{{ customer.email }}"}}}, "config.match.event"),
    ({"type": "add_tag", "config": {"tag": "x"}, "branch": 9}, "branch"),
    ({"type": "add_tag", "config": {"tag": "x"}, "branch": 0}, "branch"),
    ({"type": "add_tag", "config": {"tag": "x"}, "parent_step_id": 0, "branch": 0}, "parent_step_id"),
])
def test_bad_step_bodies_are_422s_naming_the_field(api, body, field):
    workflow = new_workflow(api, [])
    assert_error(api.post(f"/workflows/{workflow['id']}/steps", json=body), 422, field=field)


def test_steps_given_with_a_new_workflow_go_on_its_main_path_only(api):
    body = {"name": "Paths", "trigger_type": "purchase",
            "steps": [SPLIT, {"type": "add_tag", "config": {"tag": "b"}, "parent_step_id": 1, "branch": 1}]}
    assert_error(api.post("/workflows", json=body), 422, field="steps[1].parent_step_id")


def test_a_path_of_a_step_that_owns_none_or_out_of_range_is_refused(api):
    workflow = new_workflow(api, [SPLIT, {"type": "add_tag", "config": {"tag": "x"}}])
    split, tag = workflow["steps"]
    for where, field in [({"parent_step_id": tag["id"], "branch": 0}, "parent_step_id"),
                         ({"parent_step_id": split["id"], "branch": 2}, "branch"),
                         ({"parent_step_id": split["id"]}, "branch")]:
        assert_error(api.post(f"/workflows/{workflow['id']}/steps",
                              json={"type": "add_tag", "config": {"tag": "y"}, **where}), 422, field=field)
    assert db.session.query(AutomationStep).count() == 2  # nothing half-written


def test_another_tenants_split_is_no_parent_and_their_steps_are_404(api, api_b):
    theirs = new_workflow(api_b, [SPLIT])
    [their_split] = theirs["steps"]
    mine = new_workflow(api, [])
    assert_error(api.post(f"/workflows/{mine['id']}/steps", json={"type": "add_tag", "config": {"tag": "x"},
                                                                  "parent_step_id": their_split["id"], "branch": 0}),
                 422, field="parent_step_id")
    assert_error(api.get(f"/workflows/{theirs['id']}/steps/{their_split['id']}"), 404)
    assert_error(api.put(f"/workflows/{theirs['id']}/steps/order",
                         json={"step_ids": [their_split["id"]]}), 404)


def test_enrollments_report_their_path(api, tenant_a):
    tenant = db.session.get(Tenant, tenant_a.id)
    tenant.postal_address = "1 Stage Door, Leeds"
    db.session.commit()
    workflow = new_workflow(api, [{"type": "split", "config": {"paths": [{"percent": 0}, {"percent": 100}]}}])
    assert api.post(f"/workflows/{workflow['id']}/toggle", json={"active": True}).status_code == 200
    customer = api.post("/customers", json={"email": "ada@example.com"}).get_json()
    assert api.post("/triggers", json={"type": "purchase", "customer_id": customer["id"],
                                       "payload": {}}).status_code == 201
    run_due(rng=random.Random(5))
    [enrollment] = api.get(f"/workflows/{workflow['id']}/enrollments").get_json()["data"]
    assert (enrollment["status"], enrollment["path"]) == ("completed", "B")
    [traced] = api.get(f"/customers/{customer['id']}/enrollments").get_json()["data"]
    assert traced["path"] == "B" and traced["trace"][0]["detail"] == "took path B (random, 100%)"


HOSTILE_VALUES = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=300).map(lambda t: t + "\x00"), st.text(min_size=5000, max_size=6000), st.none(),
    st.booleans(), st.recursive(st.integers(), lambda inner: st.lists(inner, max_size=3), max_leaves=30))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(percent=HOSTILE_VALUES, timeout=HOSTILE_VALUES, branch=HOSTILE_VALUES, match_value=HOSTILE_VALUES)
def test_hostile_path_bodies_are_never_500s(api, percent, timeout, branch, match_value):
    workflow = new_workflow(api, [SPLIT])
    [split] = workflow["steps"]
    bodies = [
        {"type": "split", "config": {"paths": [{"percent": percent}, {"percent": 50}]}},
        {"type": "wait_for", "config": {"activity_type": "checked_in", "timeout": {"hours": timeout}}},
        {"type": "wait_for", "config": {"activity_type": "checked_in", "timeout": {"days": 1},
                                        "match": {"gate": match_value}}},
        {"type": "add_tag", "config": {"tag": "x"}, "parent_step_id": split["id"], "branch": branch},
    ]
    for body in bodies:
        response = api.post(f"/workflows/{workflow['id']}/steps", json=body)
        assert response.status_code in (201, 422), (body, response.get_data(as_text=True)[:300])
        if response.status_code == 422:
            assert response.get_json()["error"]["details"], body
        if response.status_code == 201 and body["type"] == "wait_for" and "match" in body["config"]:
            value = response.get_json()["config"]["match"]["gate"]
            assert not (isinstance(value, float) and not math.isfinite(value))
