"""The workflow builder's condition steps, built with the segment builder's rows (the page
carries the same condition schema and modules; the step still saves {"conditions", "match"});
keyboard reordering controls; "Delete workflow" in a danger zone, "Remove step" a button."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest

from webapp.extensions import db
from webapp.services import workflows

from .conftest import HX
from .pages import field_errors

STARTING = [{"type": "tag", "operator": "has", "value": "vip"}]


@pytest.fixture
def flow(tenant_a) -> dict[str, int]:
    """A purchase workflow: add a tag, then a condition, then a wait."""
    workflow = workflows.create_workflow(tenant_a.id, {
        "name": "Upsell", "trigger_type": "purchase",
        "steps": [{"type": "add_tag", "config": {"tag": "buyer"}},
                  {"type": "condition", "config": {"conditions": STARTING, "match": "all"}},
                  {"type": "wait", "config": {"days": 2}}]})
    ids = [s.id for s in workflows.steps_of(workflow.id)]
    return {"workflow": workflow.id, "tag": ids[0], "condition": ids[1], "wait": ids[2]}


def stored(step_id: int) -> dict:
    from webapp.models import AutomationStep

    db.session.expire_all()
    return db.session.get(AutomationStep, step_id).config


def conditions_input(html: str, step_id: int):
    match = re.search(rf'<input type="hidden" id="s{step_id}-conditions" name="conditions" value="([^"]*)">', html)
    assert match, "no hidden conditions input for the step"
    return unescape(match.group(1))


def test_condition_step_offers_the_segment_builders_rows_not_a_json_textarea(owner_a, flow):
    html = owner_a.get(f"/workflows/{flow['workflow']}").get_data(as_text=True)

    assert "<textarea" not in html
    assert json.loads(conditions_input(html, flow["condition"])) == STARTING
    step = flow["condition"]
    assert re.search(rf'data-condition-builder data-testid="step-conditions"\s+data-input="s{step}-conditions"'
                     rf'\s+data-match="s{step}-match"', html)
    # The same condition language and modules as the segment builder, once per page.
    assert html.count('<script type="application/json" id="condition-schema">') == 1
    schema = json.loads(re.search(r'id="condition-schema">(.*?)</script>', html, re.S).group(1))
    assert [t["type"] for t in schema["types"]] == \
        [t["type"] for t in json.loads(re.search(r'id="condition-schema">(.*?)</script>',
                                                 owner_a.get("/segments/new").get_data(as_text=True),
                                                 re.S).group(1))["types"]]
    for module in ("dom", "model", "inputs", "rows"):
        assert f'src="/static/js/segment-builder/{module}.js"' in html
    assert 'src="/static/js/workflow-condition-steps.js"' in html


def test_condition_step_saves_conditions_and_match_as_before(owner_a, flow):
    rows = [{"type": "tag", "operator": "has", "value": "student"},
            {"type": "total_spent", "operator": ">=", "value": 50}]

    response = owner_a.hx_post(f"/workflows/{flow['workflow']}/steps/{flow['condition']}",
                               {"match": "any", "conditions": json.dumps(rows)})

    assert response.status_code == 200
    assert stored(flow["condition"]) == {"conditions": rows, "match": "any"}
    assert json.loads(conditions_input(response.get_data(as_text=True), flow["condition"])) == rows


def test_a_refused_condition_is_shown_beside_the_step_with_the_row_it_names(owner_a, flow):
    typed = json.dumps([STARTING[0], {"type": "total_spent", "operator": ">=", "value": None}])

    response = owner_a.hx_post(f"/workflows/{flow['workflow']}/steps/{flow['condition']}",
                               {"match": "all", "conditions": typed})

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_errors(html)["conditions"] == ["must be a number"]
    # The rows put the message beside the second condition.
    assert 'data-error-field="conditions[1].value" data-error-message="must be a number"' in html
    assert json.loads(conditions_input(html, flow["condition"])) == json.loads(typed)  # kept as typed
    assert stored(flow["condition"]) == {"conditions": STARTING, "match": "all"}


def test_a_refused_match_names_the_match(owner_a, flow):
    response = owner_a.hx_post(f"/workflows/{flow['workflow']}/steps/{flow['condition']}",
                               {"match": "most", "conditions": json.dumps(STARTING)})

    assert response.status_code == 422
    assert "match" in field_errors(response.get_data(as_text=True))


def test_each_step_has_move_up_and_move_down_buttons_and_a_keyboard_handle(owner_a, flow):
    html = owner_a.get(f"/workflows/{flow['workflow']}").get_data(as_text=True)

    for position in (1, 2, 3):
        assert f'aria-label="Move step {position} up"' in html
        assert f'aria-label="Move step {position} down"' in html
        assert re.search(rf'class="drag-handle" data-move-handle[^>]*aria-label="Step {position}: drag, or press '
                         r'Alt\+Arrow Up or Down', html)
    assert re.search(r'aria-label="Move step 1 up" title="Move up"\s+disabled>', html)
    assert re.search(r'aria-label="Move step 3 down" title="Move down"\s+disabled>', html)
    assert re.search(r'aria-label="Move step 2 up" title="Move up"\s+>', html)
    assert 'id="steps-announcer"' in html.split('id="steps-section"')[0]  # outside the swapped list


def test_the_keyboard_saves_the_order_as_dragging_does(owner_a, flow):
    order = [flow["condition"], flow["tag"], flow["wait"]]

    response = owner_a.hx_post(f"/workflows/{flow['workflow']}/steps/order", {"step_ids": [str(i) for i in order]})

    assert response.status_code == 200
    db.session.expire_all()
    assert [s.id for s in workflows.steps_of(flow["workflow"])] == order
    assert re.search(r'aria-label="Move step 1 up" title="Move up"\s+disabled>', response.get_data(as_text=True))


def test_delete_workflow_is_in_a_danger_zone_not_the_trigger_card(owner_a, flow):
    html = owner_a.get(f"/workflows/{flow['workflow']}").get_data(as_text=True)

    trigger_card = html.split("<h2>Trigger</h2>", 1)[1].split("</section>", 1)[0]
    assert "Delete workflow" not in trigger_card
    zone = html.split('<section class="card danger-zone"', 1)[1].split("</section>", 1)[0]
    assert f'action="/workflows/{flow["workflow"]}/delete"' in zone and "Delete workflow" in zone
    assert html.index('class="card danger-zone"') > html.index('id="steps-section"')


def test_remove_step_is_a_confirmed_danger_button(owner_a, flow):
    html = owner_a.get(f"/workflows/{flow['workflow']}").get_data(as_text=True)

    buttons = re.findall(r'<button type="submit" class="([^"]*)" aria-label="Remove step (\d)">', html)
    assert buttons == [("danger small remove-step", "1"), ("danger small remove-step", "2"),
                       ("danger small remove-step", "3")]
    assert html.count('hx-confirm="Remove this step? Customers on it move on to the next step."') == 3
    assert "link danger" not in html


def test_viewers_see_no_builder_controls(viewer_a, flow):
    html = viewer_a.get(f"/workflows/{flow['workflow']}").get_data(as_text=True)

    for marker in ("data-move", "condition-schema", "danger-zone", "Remove step", "data-condition-builder"):
        assert marker not in html, marker


def test_another_tenants_condition_step_is_a_404_and_unchanged(owner_b, flow):
    response = owner_b.client.post(f"/workflows/{flow['workflow']}/steps/{flow['condition']}",
                                   data={"match": "any", "conditions": "[]", "csrf_token": owner_b.csrf()}, headers=HX)

    assert response.status_code == 404
    assert stored(flow["condition"]) == {"conditions": STARTING, "match": "all"}
