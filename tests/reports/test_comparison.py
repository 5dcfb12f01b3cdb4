"""The campaign against the average of the tenant's previous five, and people's cumulative
opens and clicks since sending started."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.reports.report_support import engagement_hour, sent_campaign
from webapp.infra.types import utcnow
from webapp.services.campaigns.comparison import compare_with_previous, cumulative_engagement
from webapp.services.campaigns.stats import campaign_stats


def _compare(tenant_id, campaign):
    [stats] = campaign_stats(tenant_id, [campaign])
    result = compare_with_previous(tenant_id, campaign, stats)
    return result["count"], {item.key: item for item in result["items"]}


def test_no_previous_campaign_means_no_comparison(tenant_a):
    first = sent_campaign(tenant_a.id, "First", sent=10, opened=5)

    assert _compare(tenant_a.id, first) == (0, {})


def test_one_previous_campaign_is_the_average(tenant_a):
    now = utcnow()
    sent_campaign(tenant_a.id, "Before", started=now - timedelta(days=9), sent=10, opened=2, clicked=1,
                  unsubscribed=1, revenue=(20.0,))
    this = sent_campaign(tenant_a.id, "This", started=now - timedelta(days=1), sent=20, opened=9, clicked=4,
                         revenue=(30.0, 20.0))

    count, items = _compare(tenant_a.id, this)

    assert count == 1
    assert items["open_rate"].points == pytest.approx(25.0)          # 45% against 20%
    assert items["click_rate"].points == pytest.approx(10.0)         # 20% against 10%
    assert items["unsubscribe_rate"].points == pytest.approx(-10.0)  # 0% against 10%: better
    assert items["unsubscribe_rate"].verdict == "better"
    assert items["revenue_per_recipient"].points == pytest.approx(0.5)  # 2.50 against 2.00
    assert items["open_rate"].verdict == "better"


def test_only_the_last_five_sent_before_it_count_and_never_another_tenants(tenant_a, tenant_b):
    now = utcnow()
    # Six earlier campaigns; the oldest (open rate 100%) is the sixth back and must not count.
    sent_campaign(tenant_a.id, "Oldest", started=now - timedelta(days=30), sent=10, opened=10)
    for n in range(5):
        sent_campaign(tenant_a.id, f"Earlier {n}", started=now - timedelta(days=20 - n), sent=10, opened=n + 1)
    # Neither another tenant's campaign, nor a draft, nor a later one, nor a workflow's email.
    sent_campaign(tenant_b.id, "Theirs", started=now - timedelta(days=3), sent=10, opened=10)
    sent_campaign(tenant_a.id, "Cancelled", started=now - timedelta(days=3), sent=10, opened=10, status="cancelled")
    sent_campaign(tenant_a.id, "Workflow mail", started=now - timedelta(days=3), sent=10, opened=10, kind="workflow")
    this = sent_campaign(tenant_a.id, "This", started=now - timedelta(days=2), sent=10, opened=5)
    sent_campaign(tenant_a.id, "Later", started=now - timedelta(days=1), sent=10, opened=10)

    count, items = _compare(tenant_a.id, this)

    assert count == 5
    assert items["open_rate"].average == pytest.approx(0.3)  # (10+20+30+40+50)% / 5
    assert items["open_rate"].points == pytest.approx(20.0)


def test_cumulative_points_are_hourly_for_two_days_then_daily_at_local_midnight(tenant_a):
    started = datetime(2026, 11, 1, 9, 20, tzinfo=UTC)
    campaign = sent_campaign(tenant_a.id, "Three days", started=started, sent=10)
    engagement_hour(campaign, datetime(2026, 11, 1, 9, tzinfo=UTC), opened=3, clicked=1)
    engagement_hour(campaign, datetime(2026, 11, 1, 15, tzinfo=UTC), opened=2)
    engagement_hour(campaign, datetime(2026, 11, 2, 20, tzinfo=UTC), opened=1, clicked=1)
    engagement_hour(campaign, datetime(2026, 11, 4, 11, tzinfo=UTC), opened=1)

    points = cumulative_engagement(campaign, timezone="America/New_York", now=datetime(2026, 11, 20, tzinfo=UTC))

    hourly = [p for p in points if p.hourly]
    daily = [p for p in points if not p.hourly]
    assert len(hourly) == 49 and hourly[0].at == datetime(2026, 11, 1, 9, tzinfo=UTC)
    assert (hourly[0].opened, hourly[1].opened, hourly[7].opened, hourly[-1].opened) == (0, 3, 5, 6)
    assert [p.clicked for p in hourly][-1] == 2
    # Daily at New York midnight (05:00 UTC in November), up to the hour after the last open.
    assert [p.at for p in daily] == [datetime(2026, 11, 4, 5, tzinfo=UTC), datetime(2026, 11, 4, 12, tzinfo=UTC)]
    assert [p.opened for p in daily] == [6, 7]
    assert [p.opened for p in points] == sorted(p.opened for p in points)  # never goes down


def test_a_one_hour_send_draws_a_line_from_zero_up_to_now(tenant_a):
    started = utcnow() - timedelta(minutes=70)
    campaign = sent_campaign(tenant_a.id, "Just now", started=started, sent=4)
    engagement_hour(campaign, started.replace(minute=0, second=0, microsecond=0), opened=2, clicked=1)

    points = cumulative_engagement(campaign, timezone="Europe/Paris", now=utcnow())

    assert len(points) >= 3 and points[0].opened == 0
    assert points[-1].opened == 2 and points[-1].clicked == 1 and points[-1].at >= utcnow()


def test_a_campaign_not_sent_has_no_points(tenant_a):
    draft = sent_campaign(tenant_a.id, "Draft", sent=0, status="draft")
    draft.started_at = None

    assert cumulative_engagement(draft, timezone="UTC", now=utcnow()) == []
