"""A/B tests on campaigns: the API's shapes and refusals, the sample and the held remainder,
each variant's message, the winner (automatic by the metric, the control when nothing is
clear, by hand), the stats, and tenant walls on every new route."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ab_support import (
    SUBJECTS,
    attribute,
    engage,
    freeze_after_test,
    freeze_at,
    sample_rows,
    variant_bodies,
)
from campaign_support import (
    add_audience,
    assert_counters_match_rows,
    assert_error,
    audience_segment,
    campaign,
    ready_tenant,
    recipient_rows,
    run_burst_worker,
    statuses,
)
from redis import Redis
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import CampaignVariant, OutboxMessage
from webapp.services.campaigns import reconcile
from webapp.tasks.delivery import choose_ab_winner


@pytest.fixture
def segment_id(app, tenant_a):
    ready_tenant(tenant_a.id)
    add_audience(tenant_a.id, 100)
    return audience_segment(tenant_a.id)


@pytest.fixture
def create(api, segment_id):
    def create(expect: int = 201, **fields):
        body = {"name": "Summer line-up", "subject": "The line-up",
                "content": "<p>Hi {{ customer.first_name }}, the line-up is out.</p>", "segment_id": segment_id,
                **fields}
        response = api.post("/campaigns", json=body)
        assert response.status_code == expect, response.get_json()
        return response.get_json()
    return create


def started(api, runner, campaign_id: int) -> dict:
    """Send now and run the worker: the sample goes out, the remainder is held."""
    assert api.post(f"/campaigns/{campaign_id}/send").status_code == 202
    run_burst_worker(runner)
    return api.get(f"/campaigns/{campaign_id}").get_json()


def outbox_subjects(campaign_id: int) -> dict[str, str]:
    rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.campaign_id == campaign_id))
    out = {row.recipient: row.subject for row in rows}
    db.session.commit()
    return out


# --- the API's shapes and refusals -----------------------------------------------------------

def test_create_with_variants_and_ab_test_returns_both(create):
    created = create(variants=variant_bodies(3), ab_test={"share_percent": 30, "duration_minutes": 60,
                                                          "metric": "clicks"})

    assert [v["variant"] for v in created["variants"]] == ["A", "B", "C"]
    assert created["variants"][0] == {"variant": "A", "subject": SUBJECTS[0], "preheader": None, "from_name": None,
                                      "content": None, "design": None}
    assert created["variants"][1]["content"].startswith("<p>Variant B")
    assert created["ab_test"] == {"share_percent": 30, "duration_minutes": 60, "metric": "clicks",
                                  "test_ends_at": None, "winner": None, "winner_chosen_at": None,
                                  "winner_chosen_by": None, "verdict": None}
    assert created["status"] == "draft"


def test_variants_without_ab_test_take_a_fifth_for_four_hours_by_opens(create):
    created = create(variants=variant_bodies(2))

    assert created["ab_test"]["share_percent"] == 20
    assert created["ab_test"]["duration_minutes"] == 240 and created["ab_test"]["metric"] == "opens"


def test_a_campaign_without_a_test_shows_none(create):
    created = create()

    assert created["variants"] == [] and created["ab_test"] is None


@pytest.mark.parametrize("count", [0, 1, 5])
def test_fewer_than_two_or_more_than_four_variants_are_refused_naming_variants(api, segment_id, count):
    body = {"name": "x", "subject": "s", "content": "<p>c</p>", "segment_id": segment_id,
            "variants": [{"subject": f"S{i}"} for i in range(count)]}

    assert_error(api.post("/campaigns", json=body), 422, field="variants")


def test_ab_test_without_variants_is_refused_naming_variants(api, segment_id):
    body = {"name": "x", "subject": "s", "content": "<p>c</p>", "segment_id": segment_id,
            "ab_test": {"share_percent": 20, "duration_minutes": 60, "metric": "opens"}}

    assert_error(api.post("/campaigns", json=body), 422, field="variants")


@pytest.mark.parametrize("ab_test, field", [
    ({"share_percent": 0}, "ab_test.share_percent"),
    ({"share_percent": 101}, "ab_test.share_percent"),
    ({"duration_minutes": 29}, "ab_test.duration_minutes"),
    ({"duration_minutes": 10081}, "ab_test.duration_minutes"),
    ({"metric": "revenue_total"}, "ab_test.metric"),
])
def test_ab_test_settings_out_of_bounds_are_refused_naming_the_setting(api, segment_id, ab_test, field):
    body = {"name": "x", "subject": "s", "content": "<p>c</p>", "segment_id": segment_id,
            "variants": variant_bodies(2), "ab_test": ab_test}

    assert_error(api.post("/campaigns", json=body), 422, field=field)


def test_a_variant_with_both_content_and_design_or_a_broken_template_is_refused_naming_it(api, segment_id):
    base = {"name": "x", "subject": "s", "content": "<p>c</p>", "segment_id": segment_id}
    both = [{"subject": "A"}, {"content": "<p>b</p>", "design": {"version": 1, "blocks": []}}]
    broken = [{"subject": "A"}, {"subject": "Hi {{ customer.first_name "}]

    assert_error(api.post("/campaigns", json={**base, "variants": both}), 422, field="variants[1].content")
    assert_error(api.post("/campaigns", json={**base, "variants": broken}), 422, field="variants[1].subject")
    assert db.session.scalar(select(CampaignVariant.id)) is None, "nothing half-written"


def test_patch_replaces_variants_changes_settings_alone_and_null_removes_the_test(api, create):
    created = create(variants=variant_bodies(2))
    path = f"/campaigns/{created['id']}"

    three = api.patch(path, json={"variants": variant_bodies(3)}).get_json()
    settings = api.patch(path, json={"ab_test": {"metric": "revenue", "share_percent": 50}}).get_json()
    removed = api.patch(path, json={"variants": None, "ab_test": None}).get_json()

    assert [v["variant"] for v in three["variants"]] == ["A", "B", "C"]
    assert settings["ab_test"]["metric"] == "revenue" and settings["ab_test"]["share_percent"] == 50
    assert len(settings["variants"]) == 3, "settings alone keep the variants"
    assert removed["variants"] == [] and removed["ab_test"] is None


def test_patch_of_ab_test_on_a_campaign_without_variants_is_refused(api, create):
    created = create()

    assert_error(api.patch(f"/campaigns/{created['id']}", json={"ab_test": {"metric": "clicks"}}), 422,
                 field="variants")


def test_a_test_cannot_go_out_in_per_timezone_waves(api, create):
    created = create(variants=variant_bodies(2))

    response = api.post(f"/campaigns/{created['id']}/schedule",
                        json={"local_time": "2030-06-01T10:00", "per_customer_timezone": True})

    assert_error(response, 422, field="per_customer_timezone")


def test_a_duplicate_keeps_the_variants_and_settings_but_no_winner(api, create):
    created = create(variants=variant_bodies(3), ab_test={"metric": "clicks", "duration_minutes": 90})

    copy = api.post(f"/campaigns/{created['id']}/duplicate").get_json()

    assert [v["subject"] for v in copy["variants"]] == [v["subject"] for v in created["variants"]]
    assert copy["ab_test"]["metric"] == "clicks" and copy["ab_test"]["winner"] is None


# --- the send ------------------------------------------------------------------------------

def test_the_sample_gets_its_variants_and_the_rest_waits_for_the_winner(api, runner, create):
    created = create(variants=variant_bodies(2), ab_test={"share_percent": 20, "duration_minutes": 60})

    after = started(api, runner, created["id"])

    rows = recipient_rows(created["id"])
    sample = [r for r in rows if r.variant is not None]
    assert len(sample) == 20 and {r.status for r in sample} == {"sent"}
    assert sorted(r.variant for r in sample) == [0] * 10 + [1] * 10, "split evenly"
    assert {r.status for r in rows if r.variant is None} == {"held"} and len(rows) == 100
    subjects = outbox_subjects(created["id"])
    assert len(subjects) == 20
    assert {subjects[r.email] for r in sample if r.variant == 0} == {SUBJECTS[0]}
    assert {subjects[r.email] for r in sample if r.variant == 1} == {SUBJECTS[1]}
    assert after["status"] == "testing" and campaign(created["id"]).status == "sending"
    assert after["ab_test"]["test_ends_at"] is not None


def test_each_variant_renders_its_own_sender_preheader_and_content(api, runner, create):
    created = create(variants=variant_bodies(2), ab_test={"share_percent": 100, "duration_minutes": 60})
    started(api, runner, created["id"])

    rows = {r.email: r for r in recipient_rows(created["id"])}
    messages = db.session.scalars(select(OutboxMessage).where(OutboxMessage.campaign_id == created["id"])).all()
    for message in messages:
        raw = message.raw.decode("utf-8", "replace")
        if rows[message.recipient].variant == 1:
            assert "Sender 1" in raw and "Variant B for" in raw and "Preheader 1" in raw
        else:
            assert "Arena Alpha" in raw and "the line-up is out" in raw and "Variant B" not in raw
    assert len(messages) == 100, "share 100: the test is the send, nobody is held"
    assert campaign(created["id"]).status == "sent"


def test_cancel_skips_the_held_remainder(api, runner, create):
    created = create(variants=variant_bodies(2))
    started(api, runner, created["id"])

    assert api.post(f"/campaigns/{created['id']}/cancel").status_code == 200

    assert statuses(created["id"]) == {"sent": 20, "skipped": 80}
    assert_counters_match_rows(created["id"])


# --- the winner ----------------------------------------------------------------------------

def test_at_the_end_a_clear_winner_gets_the_remainder(api, runner, create, monkeypatch):
    created = create(variants=variant_bodies(2), ab_test={"share_percent": 60, "duration_minutes": 60,
                                                          "metric": "clicks"})
    started(api, runner, created["id"])
    engage(created["id"], 0, clicks=3)
    engage(created["id"], 1, clicks=20)
    freeze_after_test(monkeypatch, created["id"])

    assert choose_ab_winner(created["id"]) == "B"
    run_burst_worker(runner)

    final = api.get(f"/campaigns/{created['id']}").get_json()
    assert final["status"] == "sent" and final["ab_test"]["winner"] == "B"
    assert final["ab_test"]["winner_chosen_by"] == "auto"
    assert final["ab_test"]["verdict"].startswith("Variant B is the clear winner on human unique clicks")
    remainder = [r for r in recipient_rows(created["id"]) if r.variant is None]
    subjects = outbox_subjects(created["id"])
    assert len(remainder) == 40 and {subjects[r.email] for r in remainder} == {SUBJECTS[1]}
    assert len(subjects) == 100
    assert_counters_match_rows(created["id"])


def test_no_clear_winner_sends_the_control_and_says_so(api, runner, create, monkeypatch):
    created = create(variants=variant_bodies(2), ab_test={"share_percent": 60, "metric": "opens"})
    started(api, runner, created["id"])
    engage(created["id"], 0, opens=10)
    engage(created["id"], 1, opens=11)
    freeze_after_test(monkeypatch, created["id"])

    assert choose_ab_winner(created["id"]) == "A"

    chosen = campaign(created["id"])
    assert chosen.ab_verdict.startswith("No clear winner: sending variant A, the control (variant B led on human "
                                        "unique opens with")
    assert statuses(created["id"]) == {"sent": 60, "pending": 40}


def test_machine_opens_do_not_count_towards_the_winner(api, runner, create, monkeypatch):
    created = create(variants=variant_bodies(2), ab_test={"share_percent": 80, "metric": "opens"})
    started(api, runner, created["id"])
    engage(created["id"], 0, opens=25)
    engage(created["id"], 1, opens=2, machine_opens=35)  # Apple's proxy opened nearly all of B
    freeze_after_test(monkeypatch, created["id"])

    assert choose_ab_winner(created["id"]) == "A"
    stats = api.get(f"/campaigns/{created['id']}/stats").get_json()
    assert [(v["variant"], v["unique_opens"]) for v in stats["variants"]] == [("A", 25), ("B", 2)]


def test_revenue_per_recipient_decides_a_revenue_test(api, runner, create, monkeypatch):
    created = create(variants=variant_bodies(2), ab_test={"share_percent": 80, "metric": "revenue"})
    started(api, runner, created["id"])
    attribute(created["id"], 0, [20.0] * 3)
    attribute(created["id"], 1, [60.0, 80.0, 75.0, 90.0, 70.0] * 5)
    freeze_after_test(monkeypatch, created["id"])

    assert choose_ab_winner(created["id"]) == "B"
    stats = api.get(f"/campaigns/{created['id']}/stats").get_json()
    assert [v["revenue"] for v in stats["variants"]] == [60.0, 1875.0]
    assert stats["winner"] == "B" and stats["variants"][1]["probability_best"] > 0.95


def test_before_the_end_the_job_does_nothing_and_through_the_window_the_clock_decides(api, runner, create,
                                                                                       monkeypatch):
    created = create(variants=variant_bodies(2), ab_test={"duration_minutes": 120})
    started(api, runner, created["id"])
    ends = campaign(created["id"]).ab_test_ends_at

    for minutes_before in (119, 60, 1):
        freeze_at(monkeypatch, ends - timedelta(minutes=minutes_before))
        assert choose_ab_winner(created["id"]) is None
        assert reconcile.reconcile_campaigns()["winners_enqueued"] == 0
    assert statuses(created["id"])["held"] == 80
    freeze_at(monkeypatch, ends)

    assert choose_ab_winner(created["id"]) == "A"
    assert choose_ab_winner(created["id"]) is None, "a second run changes nothing"


def test_a_manual_pick_sends_that_variant_and_a_second_pick_is_a_409(api, runner, create):
    created = create(variants=variant_bodies(3))
    started(api, runner, created["id"])

    picked = api.post(f"/campaigns/{created['id']}/winner", json={"variant": "C"})
    again = api.post(f"/campaigns/{created['id']}/winner", json={"variant": "B"})
    run_burst_worker(runner)

    assert picked.status_code == 200, picked.get_json()
    body = picked.get_json()
    assert body["ab_test"]["winner"] == "C" and body["ab_test"]["winner_chosen_by"] == "manual"
    assert_error(again, 409)
    subjects = outbox_subjects(created["id"])
    remainder = [r for r in recipient_rows(created["id"]) if r.variant is None]
    assert {subjects[r.email] for r in remainder} == {SUBJECTS[2]} and len(subjects) == 100
    assert choose_ab_winner(created["id"]) is None, "the automatic job does not overrule the marketer"


@pytest.mark.parametrize("variant", ["E", "c ", "1", "", "AB"])
def test_a_pick_of_a_letter_the_test_has_not_is_a_422(api, runner, create, variant):
    created = create(variants=variant_bodies(2))
    started(api, runner, created["id"])

    assert_error(api.post(f"/campaigns/{created['id']}/winner", json={"variant": variant}), 422, field="variant")
    assert_error(api.post(f"/campaigns/{created['id']}/winner", json={"variant": "C"}), 422, field="variant")


def test_a_pick_before_the_send_or_without_a_test_is_a_409(api, create):
    tested, plain = create(variants=variant_bodies(2)), create()

    assert_error(api.post(f"/campaigns/{tested['id']}/winner", json={"variant": "A"}), 409)
    assert_error(api.post(f"/campaigns/{plain['id']}/winner", json={"variant": "A"}), 409)


def test_the_reconciler_asks_again_for_a_winner_whose_job_was_lost(api, runner, create, monkeypatch):
    created = create(variants=variant_bodies(2))
    started(api, runner, created["id"])
    freeze_after_test(monkeypatch, created["id"])
    Redis.from_url(runner.app.config["REDIS_URL"]).flushdb()  # the job Redis held is gone

    assert reconcile.reconcile_campaigns()["winners_enqueued"] == 1
    run_burst_worker(runner)

    assert campaign(created["id"]).ab_winner == 0 and campaign(created["id"]).status == "sent"


# --- stats and tenancy ------------------------------------------------------------------------

def test_stats_list_each_variant_and_the_winner_and_keep_every_other_field(api, runner, create):
    created = create(variants=variant_bodies(2))
    plain = create()
    started(api, runner, created["id"])
    engage(created["id"], 1, opens=4, clicks=2)

    one = api.get(f"/campaigns/{created['id']}/stats").get_json()
    listed = {item["campaign_id"]: item for item in api.get("/campaigns/stats").get_json()["data"]}

    assert one["variants"][1] == {"variant": "B", "sent": 10, "unique_opens": 4, "unique_clicks": 2,
                                  "revenue": 0.0, "probability_best": one["variants"][1]["probability_best"]}
    assert one["winner"] is None and one["sent"] == 20 and "open_rate" in one and "links" in one
    assert listed[created["id"]]["variants"] == one["variants"]
    assert listed[plain["id"]]["variants"] is None and listed[plain["id"]]["winner"] is None


def test_another_tenants_campaign_is_a_404_on_the_winner_route(api, api_b, runner, create):
    created = create(variants=variant_bodies(2))
    started(api, runner, created["id"])

    assert_error(api_b.post(f"/campaigns/{created['id']}/winner", json={"variant": "B"}), 404)
    assert_error(api_b.get(f"/campaigns/stats?campaign_id={created['id']}"), 404)
    assert campaign(created["id"]).ab_winner is None
    assert len(sample_rows(created["id"])) == 20
