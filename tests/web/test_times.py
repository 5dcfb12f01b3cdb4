"""Relative times in the tenant's timezone: recent things read as "5 minutes ago", older
ones as their local date, and the exact local time is always in the title."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from webapp.web.times import day_and_time, distance_words, relative_words

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)  # Friday
LONDON = ZoneInfo("Europe/London")
TOKYO = ZoneInfo("Asia/Tokyo")


def ago(**delta) -> datetime:
    return NOW - timedelta(**delta)


def test_recent_moments_read_as_minutes_and_hours_ago():
    assert relative_words(ago(seconds=20), NOW, LONDON) == "just now"
    assert relative_words(ago(minutes=1), NOW, LONDON) == "1 minute ago"
    assert relative_words(ago(minutes=5), NOW, LONDON) == "5 minutes ago"
    assert relative_words(ago(hours=2), NOW, LONDON) == "2 hours ago"
    assert relative_words(ago(hours=1, minutes=1), NOW, LONDON) == "1 hour ago"


def test_yesterday_reads_with_its_local_time_and_older_as_the_date():
    assert relative_words(ago(hours=24, minutes=55), NOW, LONDON) == "yesterday at 14:05"
    assert relative_words(ago(days=3), NOW, LONDON) == "Tue 1 Dec, 15:00"
    assert relative_words(datetime(2025, 6, 1, 12, 0, tzinfo=UTC), NOW, LONDON) == "1 Jun 2025"


def test_days_are_counted_in_the_tenants_timezone():
    # 15:00 UTC is midnight in Tokyo: 16:00 UTC the day before is yesterday there.
    assert relative_words(ago(hours=23), NOW, TOKYO) == "yesterday at 01:00"
    assert relative_words(ago(hours=23), NOW, LONDON) == "yesterday at 16:00"
    assert relative_words(ago(hours=14), NOW, LONDON) == "14 hours ago"


def test_future_moments_read_forwards():
    assert relative_words(NOW + timedelta(minutes=30), NOW, LONDON) == "in 30 minutes"
    assert relative_words(NOW + timedelta(hours=18), NOW, LONDON) == "tomorrow at 09:00"
    assert relative_words(NOW + timedelta(days=1, hours=24, minutes=25), NOW, LONDON) == "Sun 6 Dec, 15:25"


def test_a_wait_reads_as_a_day_a_time_and_how_far_off():
    until = datetime(2026, 12, 6, 15, 25, 36, tzinfo=UTC)
    assert day_and_time(until, LONDON, NOW) == "Sun 6 Dec, 15:25"
    assert distance_words(until, NOW, LONDON) == "in 2 days"
    assert day_and_time(datetime(2027, 1, 2, 9, 0, tzinfo=UTC), LONDON, NOW) == "Sat 2 Jan 2027, 09:00"
    assert distance_words(NOW + timedelta(days=90), NOW, LONDON) == "in 3 months"
    assert distance_words(NOW - timedelta(days=800), NOW, LONDON) == "2 years ago"


def test_the_filters_give_a_time_element_with_the_exact_local_time(app):
    with app.test_request_context():  # no one signed in: UTC
        recent = app.jinja_env.from_string("{{ at | relative_time(now) }}").render(at=ago(minutes=5), now=NOW)
        waiting = app.jinja_env.from_string("{{ at | moment(now) }}").render(at=NOW + timedelta(days=2), now=NOW)
    assert recent == ('<time datetime="2026-12-04T14:55:00+00:00" title="Fri 4 Dec 2026, 14:55:00 UTC">'
                      '5 minutes ago</time>')
    assert waiting == ('<time datetime="2026-12-06T15:00:00+00:00" title="Sun 6 Dec 2026, 15:00:00 UTC">'
                       'Sun 6 Dec, 15:00</time> <span class="muted">(in 2 days)</span>')
