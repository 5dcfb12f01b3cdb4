"""The performance clock in the builder: an event_reminder trigger's settings (offset with the
message beside the field, anchor, late buyers, one event as a choice by name) and the email
step's "attach the event" checkbox."""

from __future__ import annotations

from webapp.extensions import db
from webapp.services import workflows
from webapp.services.events.catalogue import upsert_event


def _reminder_workflow(tenant_id: int):
    return workflows.create_workflow(tenant_id, {
        "name": "The night before", "trigger_type": "event_reminder", "trigger_config": {"offset": "-24h"},
        "steps": [{"type": "send_email", "config": {"subject": "Tomorrow", "content": "<p>See you</p>"}}]})


def test_the_builder_saves_a_reminders_settings_and_says_them_in_words(owner_a, tenant_a):
    show = upsert_event(tenant_a.id, {"external_id": "g1", "name": "Harbour <Lights>",
                                      "starts_at": "2027-05-01T20:00:00+01:00"}).event
    flow = _reminder_workflow(tenant_a.id)
    url = f"/workflows/{flow.id}"
    page = owner_a.get(url).get_data(as_text=True)
    assert "How long before" in page and "Harbour &lt;Lights&gt; (01 May 2027)" in page

    response = owner_a.post(f"{url}/settings", {"name": "Reminder", "trigger_type": "event_reminder",
                                                 "offset": "-2H", "anchor": "doors_at", "late_buyers": "skip",
                                                 "event_id": str(show.id), "tag": "", "reentry": "one_at_a_time"})
    assert response.status_code == 302
    db.session.expire_all()
    assert workflows.get_workflow(tenant_a.id, flow.id).trigger_config == {
        "offset": "-2h", "anchor": "doors_at", "late_buyers": "skip", "event_id": show.id}
    page = owner_a.get(url).get_data(as_text=True)
    assert "2 hours before doors open for “Harbour &lt;Lights&gt;” (the venue&#39;s clock); late buyers are skipped" \
        in page


def test_a_bad_offset_is_refused_beside_its_field(owner_a, tenant_a):
    flow = _reminder_workflow(tenant_a.id)
    response = owner_a.post(f"/workflows/{flow.id}/settings", {
        "name": "Reminder", "trigger_type": "event_reminder", "offset": "in two days", "reentry": "one_at_a_time"})
    assert response.status_code == 422
    assert "must be like -7d, -24h, -2h or -30m" in response.get_data(as_text=True)
    db.session.expire_all()
    assert workflows.get_workflow(tenant_a.id, flow.id).trigger_config["offset"] == "-24h"


def test_the_email_step_page_attaches_the_event_as_a_calendar_file(owner_a, tenant_a):
    flow = _reminder_workflow(tenant_a.id)
    step = workflows.steps_of(flow.id)[0]
    url = f"/workflows/{flow.id}/steps/{step.id}/email"
    assert "Attach the event to add to a calendar (.ics)" in owner_a.get(url).get_data(as_text=True)

    assert owner_a.post(url, {"subject": "Tomorrow", "content": "<p>See you</p>",
                              "attach_calendar": "y"}).status_code == 302
    db.session.expire_all()
    assert workflows.steps_of(flow.id)[0].config["attach_calendar"] is True
    assert "The event&#39;s calendar file (.ics) is attached" in owner_a.get(f"/workflows/{flow.id}").get_data(
        as_text=True)

    owner_a.post(url, {"subject": "Tomorrow", "content": "<p>See you</p>"})
    db.session.expire_all()
    assert "attach_calendar" not in workflows.steps_of(flow.id)[0].config
