"""The builder's settings of the inventory triggers: saved from the form (the holders choice
as the boolean it is, shown selected again), summarised in words, errors beside the field."""

from __future__ import annotations

from sqlalchemy import select

from tests.web.pages import field_errors
from webapp.extensions import db
from webapp.models import AutomationWorkflow, CustomerSegment


def test_low_inventory_settings_save_show_again_and_read_as_a_sentence(owner_a, world_a):
    wid = world_a["workflow_id"]
    path = f"/workflows/{wid}/settings"
    segment = db.session.scalar(select(CustomerSegment.id).where(CustomerSegment.id == world_a["segment_id"]))
    # The new type first (its own fields appear once it is saved), then its settings.
    assert owner_a.post(path, {"name": "Nearly gone", "trigger_type": "low_inventory"}).status_code == 302
    saved = owner_a.post(path, {"name": "Nearly gone", "trigger_type": "low_inventory", "reentry": "always",
                                "segment_id": str(segment), "exclude_holders": "false", "below_percent": "15"})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    workflow = db.session.get(AutomationWorkflow, wid)
    db.session.refresh(workflow)
    assert workflow.trigger_config == {"segment_id": segment, "exclude_holders": False, "below_percent": 15}

    page = owner_a.get(f"/workflows/{wid}").get_data(as_text=True)
    assert '<option value="false" selected>' in page
    assert "Tickets below 15% for any event for VIPs" in page

    refused = owner_a.post(path, {"name": "Nearly gone", "trigger_type": "low_inventory", "reentry": "always",
                                  "segment_id": str(segment), "below_percent": "100"})
    assert refused.status_code == 422
    assert "below_percent" in field_errors(refused.get_data(as_text=True))
