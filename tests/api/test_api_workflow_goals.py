"""Workflow goals, exit conditions and holdout steps over JSON: shapes, 422s naming the
field, enrollments reporting converted_at, tenant walls."""

from __future__ import annotations

import pytest
from api_assertions import assert_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp.extensions import db
from webapp.models import AutomationWorkflow

GOAL = {"conditions": [{"type": "purchased_since_entry"}, {"type": "tag", "value": "vip"}], "match": "any"}
EXITS = {"conditions": [{"type": "email_status", "operator": "=", "value": "unsubscribed"}]}


def create(api, **fields) -> dict:
    response = api.post("/workflows", json={"name": "Nudge", "trigger_type": "custom",
                                            "steps": [{"type": "wait", "config": {"days": 1}}], **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_workflow_takes_a_goal_with_a_default_window_and_exit_conditions(api):
    created = create(api, goal=GOAL, exit_conditions=EXITS)

    assert created["goal"] == {**GOAL, "within_days": 30}
    assert created["exit_conditions"] == {**EXITS, "match": "all"}
    assert created["counts"]["converted"] == 0
    assert api.get(f"/workflows/{created['id']}").get_json()["goal"]["within_days"] == 30


def test_patch_changes_keeps_or_removes_the_goal(api):
    created = create(api, goal=GOAL)
    path = f"/workflows/{created['id']}"

    changed = api.patch(path, json={"goal": {**GOAL, "within_days": 7}}).get_json()
    assert changed["goal"]["within_days"] == 7
    assert api.patch(path, json={"name": "Renamed"}).get_json()["goal"]["within_days"] == 7
    removed = api.patch(path, json={"goal": None, "exit_conditions": EXITS}).get_json()
    assert removed["goal"] is None and removed["exit_conditions"]["conditions"] == EXITS["conditions"]


@pytest.mark.parametrize(("body", "field"), [
    ({"goal": {"conditions": [{"type": "tag", "value": "vip"}], "within_days": 366}}, "goal.within_days"),
    ({"goal": {"conditions": [{"type": "total_spent", "operator": ">=", "value": "lots"}]}},
     "goal.conditions[0].value"),
    ({"goal": {"conditions": "vip"}}, "goal.conditions"),
    ({"goal": []}, "goal"),
    ({"exit_conditions": {"conditions": [{"type": "purchased_since_entry"}]}}, "exit_conditions.conditions[0].type"),
    ({"exit_conditions": {"conditions": [{"type": "tag", "value": "x"}], "within_days": 3}},
     "exit_conditions.within_days"),
])
def test_bad_goals_and_exit_conditions_are_422_naming_the_field_and_nothing_is_written(api, body, field):
    created = create(api)
    assert_error(api.post("/workflows", json={"name": "W", "trigger_type": "custom", **body}), 422, field=field)
    assert_error(api.patch(f"/workflows/{created['id']}", json=body), 422, field=field)
    db.session.expire_all()
    assert db.session.get(AutomationWorkflow, created["id"]).goal is None
    assert len(api.get("/workflows").get_json()["data"]) == 1


@pytest.mark.parametrize("percent", [0, 91, "10", 10.5, None])
def test_a_holdout_step_takes_1_to_90_percent(api, percent):
    created = create(api)
    response = api.post(f"/workflows/{created['id']}/steps", json={"type": "holdout", "config": {"percent": percent}})
    assert_error(response, 422, field="config.percent")
    added = api.post(f"/workflows/{created['id']}/steps", json={"type": "holdout", "config": {"percent": 10}})
    assert added.status_code == 201
    assert added.get_json()["summary"] == "Hold out 10% as a control group (they get nothing more)"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30) | st.floats()
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)
goal_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"conditions": st.lists(st.dictionaries(
        st.sampled_from(["type", "operator", "value", "match", "conditions"]),
        st.sampled_from(["tag", "purchased_since_entry", "total_spent", ">=", "\x00", 10**20, "all"]) | json_values,
        max_size=4), max_size=3)},
        optional={"match": json_values, "within_days": json_values}))


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(goal=goal_bodies, which=st.sampled_from(["goal", "exit_conditions"]))
def test_any_goal_body_is_saved_or_refused_naming_the_field_never_a_500(api, goal, which):
    response = api.post("/workflows", json={"name": "W", "trigger_type": "custom", which: goal})
    if response.status_code == 201:
        assert response.get_json()[which] is None or response.get_json()[which]["conditions"]
        db.session.query(AutomationWorkflow).delete()
        db.session.commit()
    else:
        error = assert_error(response, 422)
        assert all(d["field"].startswith(which) for d in error["details"]), error


def test_enrollments_report_converted_at_and_held_out(api, tenant_a):
    created = create(api, goal={"conditions": [{"type": "purchased_since_entry"}]})
    api.post(f"/workflows/{created['id']}/toggle", json={"active": True})
    ada = api.post("/customers", json={"email": "ada@example.com"}).get_json()["id"]
    api.post(f"/workflows/{created['id']}/enroll", json={"customer_ids": [ada]})
    assert api.post("/activities", json={"customer_id": ada, "type": "purchase",
                                         "properties": {"order_total": 30, "order_id": "o-1"}}).status_code == 201

    [row] = api.get(f"/workflows/{created['id']}/enrollments").get_json()["data"]
    assert row["status"] == "converted" and row["converted_at"] is not None
    assert (row["goal_met_at_entry"], row["held_out"]) == (False, False)
    assert row["exit_reason"] == "goal met: made a purchase since entering"
    [mine] = api.get(f"/customers/{ada}/enrollments").get_json()["data"]
    assert mine["converted_at"] == row["converted_at"] and mine["trace"][0]["outcome"] == "cancelled"
    only = api.get(f"/workflows/{created['id']}/enrollments", query_string={"status": "converted"}).get_json()
    assert [r["id"] for r in only["data"]] == [row["id"]]
    assert api.get(f"/workflows/{created['id']}").get_json()["counts"]["converted"] == 1


def test_another_tenants_workflow_is_a_404_for_goals(api, api_b):
    created = create(api)
    assert_error(api_b.patch(f"/workflows/{created['id']}", json={"goal": GOAL}), 404)
    assert_error(api_b.post(f"/workflows/{created['id']}/steps",
                            json={"type": "holdout", "config": {"percent": 10}}), 404)
    db.session.expire_all()
    assert db.session.get(AutomationWorkflow, created["id"]).goal is None
