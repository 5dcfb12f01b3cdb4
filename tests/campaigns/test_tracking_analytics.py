"""Classification, statistics on a hand-computed example, attribution, and a writer that dies."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.campaigns.campaign_support import new_campaign, run_burst_worker
from tests.campaigns.tracking_support import (
    BROWSER_UA,
    age_delivery,
    hit,
    outbox_html,
    send_to_audience,
    tracking_urls,
    write_hits,
)
from webapp.extensions import db
from webapp.infra.queues import redis_connection
from webapp.infra.types import utcnow
from webapp.models import CampaignAttribution, CampaignLink, CampaignRecipient, EmailCampaign, Tenant, TrackingHit
from webapp.services import activities, campaigns
from webapp.services.tracking import GROUP, STREAM, confirm_hits, drain_hits, write_batch
from webapp.services.tracking.writer import _decode, _ensure_group

MIMECAST = "Mozilla/5.0 (compatible; Mimecast URL Protect)"
GOOGLE_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"


def _recipients(campaign_id: int) -> dict[str, CampaignRecipient]:
    db.session.expire_all()
    return {r.email: r for r in db.session.scalars(select(CampaignRecipient).where(
        CampaignRecipient.campaign_id == campaign_id))}


def _links(campaign_id: int) -> dict[str, int]:
    """{host: link id} of the campaign's two links."""
    rows = db.session.execute(select(CampaignLink.url, CampaignLink.id).where(CampaignLink.campaign_id == campaign_id))
    return {url.split("/")[2]: link_id for url, link_id in rows}


def queue_hit(token: str, kind: str, at, *, link_id: int = 0, links: int = 2, ua: str = BROWSER_UA,
              ip: str = "198.51.100.7", method: str = "GET") -> None:
    """A stream entry exactly as the endpoints write it, at a chosen time."""
    values = (kind[0], token, str(link_id), str(links), f"{at.timestamp():.6f}", method, ip, ua, "",
              secrets.token_hex(8))
    redis_connection().xadd(STREAM, {"h": "\x1f".join(values)})


def test_apple_mpp_google_proxy_scanners_head_and_early_clicks_are_machines(client, api, tenant_a, runner):
    cid = send_to_audience(runner, tenant_a.id, 3)
    pages = outbox_html(cid)
    pixel0, clicks0 = tracking_urls(pages["fan0@example.com"])
    pixel1, clicks1 = tracking_urls(pages["fan1@example.com"])
    # Seconds after delivery: a gateway follows the link before anyone could have read it.
    hit(client, clicks1[0])
    write_hits()
    age_delivery(cid)
    hit(client, pixel0, ua="Mozilla/5.0")  # Apple's proxy announces nothing more
    hit(client, pixel0, ip="17.58.101.9")  # from Apple's network, whatever the user agent
    hit(client, pixel0, ua=GOOGLE_PROXY)
    hit(client, pixel0, method="HEAD")
    hit(client, pixel0, ua=None)
    hit(client, clicks0[0], ua=MIMECAST)
    hit(client, pixel1)  # the one person
    write_hits()
    reasons = sorted((h.kind, h.machine_reason or "") for h in db.session.scalars(select(TrackingHit)))
    assert reasons == sorted([("click", "click_soon_after_delivery"), ("open", "apple_mpp"), ("open", "apple_mpp"),
                              ("open", "google_image_proxy"), ("open", "head_request"),
                              ("open", "no_user_agent"), ("click", "security_scanner"), ("open", "")])
    stats = api.get(f"/campaigns/{cid}/stats").get_json()
    assert stats["opens"] == {"all": 6, "human": 1} and stats["unique_opens"] == {"all": 2, "human": 1}
    assert stats["clicks"] == {"all": 2, "human": 0} and stats["unique_clicks"] == {"all": 2, "human": 0}
    # Only the person's open reaches the timeline (and so the segments).
    recipients = _recipients(cid)
    timeline = api.get(f"/customers/{recipients['fan0@example.com'].customer_id}/timeline").get_json()["data"]
    assert not [i for i in timeline if i["type"] in ("email_opened", "email_clicked")]
    timeline = api.get(f"/customers/{recipients['fan1@example.com'].customer_id}/timeline").get_json()["data"]
    assert [i["type"] for i in timeline if i["type"] in ("email_opened", "email_clicked")] == ["email_opened"]


def test_every_link_clicked_within_one_second_is_a_machine(tenant_a, runner):
    cid = send_to_audience(runner, tenant_a.id, 2)
    age_delivery(cid)
    recipients, links = _recipients(cid), _links(cid)
    second = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    scanner, person = recipients["fan0@example.com"].token, recipients["fan1@example.com"].token
    queue_hit(scanner, "click", second + timedelta(milliseconds=100), link_id=links["tickets.example.com"])
    queue_hit(scanner, "click", second + timedelta(milliseconds=700), link_id=links["venue.example.com"])
    queue_hit(person, "click", second, link_id=links["tickets.example.com"])
    queue_hit(person, "click", second + timedelta(seconds=40), link_id=links["venue.example.com"])
    write_hits()
    by_token = {}
    for row in db.session.scalars(select(TrackingHit).join(CampaignRecipient)):
        by_token.setdefault(row.recipient_id, []).append(row.machine_reason)
    assert by_token[recipients["fan0@example.com"].id] == ["all_links_same_second"] * 2
    assert by_token[recipients["fan1@example.com"].id] == [None, None]


def test_stats_match_a_hand_computed_example(client, api, tenant_a, runner):
    """Four recipients: fan0 opens twice and clicks Tickets; fan1 is only Apple's proxy;
    fan2 opens, clicks Tickets and Map (40 s apart) and buys for 50.00; fan3 unsubscribes."""
    cid = send_to_audience(runner, tenant_a.id, 4)
    age_delivery(cid, minutes=180)
    r, links = _recipients(cid), _links(cid)
    t = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    tickets, venue = links["tickets.example.com"], links["venue.example.com"]
    queue_hit(r["fan0@example.com"].token, "open", t + timedelta(minutes=1))
    queue_hit(r["fan0@example.com"].token, "open", t + timedelta(hours=1, minutes=1))
    queue_hit(r["fan0@example.com"].token, "click", t + timedelta(minutes=10), link_id=tickets)
    queue_hit(r["fan1@example.com"].token, "open", t + timedelta(minutes=2), ua="Mozilla/5.0")
    queue_hit(r["fan2@example.com"].token, "open", t + timedelta(minutes=3))
    queue_hit(r["fan2@example.com"].token, "click", t + timedelta(minutes=4), link_id=tickets)
    queue_hit(r["fan2@example.com"].token, "click", t + timedelta(minutes=4, seconds=40), link_id=venue)
    write_hits()
    assert client.post(f"/u/{r['fan3@example.com'].token}").status_code in (200, 303)
    activities.record_activity(tenant_a.id, "purchase", customer_id=r["fan2@example.com"].customer_id,
                               properties={"order_total": 50, "order_id": "o-1"})

    stats = api.get(f"/campaigns/{cid}/stats").get_json()
    assert {k: stats[k] for k in ("recipients", "sent", "failed", "bounced", "unsubscribed")} == {
        "recipients": 4, "sent": 4, "failed": 0, "bounced": 0, "unsubscribed": 1}
    assert stats["opens"] == {"all": 4, "human": 3}
    assert stats["unique_opens"] == {"all": 3, "human": 2}
    assert stats["clicks"] == {"all": 3, "human": 3}
    assert stats["unique_clicks"] == {"all": 2, "human": 2}
    assert stats["open_rate"] == {"all": 0.75, "human": 0.5}
    assert stats["click_rate"] == {"all": 0.5, "human": 0.5}
    assert stats["click_to_open_rate"] == {"all": 0.6667, "human": 1.0}
    assert (stats["attributed_orders"], stats["attributed_revenue"]) == (1, 50.0)
    per_link = {link["link_id"]: (link["clicks"]["all"], link["unique_clicks"]["all"]) for link in stats["links"]}
    assert per_link == {tickets: (2, 2), venue: (1, 1)}
    hours = [(h["opens"]["all"], h["opens"]["human"], h["clicks"]["all"]) for h in stats["hourly"]]
    assert hours == [(3, 2, 3), (1, 1, 0)]
    # The list endpoint agrees with the single one.
    [listed] = api.get("/campaigns/stats", query_string={"campaign_id": cid}).get_json()["data"]
    assert listed == stats


def _second_campaign(runner, tenant_id: int, first_id: int, name: str) -> int:
    segment_id = db.session.get(EmailCampaign, first_id).segment_id
    campaign = new_campaign(tenant_id, segment_id, name=name, html_content=db.session.get(
        EmailCampaign, first_id).html_content)
    campaigns.send_campaign(tenant_id, campaign.id)
    run_burst_worker(runner)
    return campaign.id


def _buy(tenant_id: int, customer_id: int, order_id: str, at, total: float = 80) -> CampaignAttribution | None:
    activity, _ = activities.record_activity(tenant_id, "purchase", customer_id=customer_id, occurred_at=at,
                                             properties={"order_total": total, "order_id": order_id})
    return db.session.get(CampaignAttribution, activity.id)


def test_attribution_goes_to_the_last_human_click_within_the_window_else_the_last_open(tenant_a, runner):
    first = send_to_audience(runner, tenant_a.id, 3)
    second = _second_campaign(runner, tenant_a.id, first, "Autumn")
    now = utcnow()
    a, b = _recipients(first), _recipients(second)
    link_a, link_b = _links(first)["tickets.example.com"], _links(second)["tickets.example.com"]
    # fan0: clicked the first campaign 4 days ago, the second 2 days ago, opened the first yesterday.
    queue_hit(a["fan0@example.com"].token, "click", now - timedelta(days=4), link_id=link_a)
    queue_hit(b["fan0@example.com"].token, "click", now - timedelta(days=2), link_id=link_b)
    queue_hit(a["fan0@example.com"].token, "open", now - timedelta(days=1))
    # fan1: only opened the second campaign 3 days ago; fan2: only Apple's proxy and a scanner.
    queue_hit(b["fan1@example.com"].token, "open", now - timedelta(days=3))
    queue_hit(a["fan2@example.com"].token, "open", now - timedelta(days=1), ua="Mozilla/5.0")
    queue_hit(a["fan2@example.com"].token, "click", now - timedelta(days=1), link_id=link_a, ua=MIMECAST)
    write_hits()
    customer = {email: r.customer_id for email, r in a.items()}

    last_click = _buy(tenant_a.id, customer["fan0@example.com"], "o-1", now)
    assert (last_click.campaign_id, last_click.touch, float(last_click.amount)) == (second, "click", 80.0)
    only_open = _buy(tenant_a.id, customer["fan1@example.com"], "o-2", now)
    assert (only_open.campaign_id, only_open.touch) == (second, "open")
    assert _buy(tenant_a.id, customer["fan2@example.com"], "o-3", now) is None  # machines earn nothing
    # Six days after the second campaign's click only the first campaign's open is within five days.
    later = _buy(tenant_a.id, customer["fan0@example.com"], "o-4", now + timedelta(days=3, hours=1))
    assert (later.campaign_id, later.touch) == (first, "open")
    assert _buy(tenant_a.id, customer["fan0@example.com"], "o-5", now + timedelta(days=7)) is None
    # A purchase before any touch is not credited to a later one.
    assert _buy(tenant_a.id, customer["fan1@example.com"], "o-6", now - timedelta(days=5)) is None


@pytest.mark.parametrize("days, credited", [(1, False), (3, True)])
def test_attribution_window_is_the_tenants_setting(tenant_a, runner, days, credited):
    cid = send_to_audience(runner, tenant_a.id, 1)
    r = _recipients(cid)["fan0@example.com"]
    queue_hit(r.token, "click", utcnow() - timedelta(days=2), link_id=_links(cid)["venue.example.com"])
    write_hits()
    db.session.get(Tenant, tenant_a.id).attribution_days = days
    db.session.commit()
    assert (_buy(tenant_a.id, r.customer_id, "o-1", utcnow()) is not None) is credited


def test_a_writer_that_dies_loses_no_hit_and_a_redelivered_batch_counts_once(client, tenant_a, runner):
    cid = send_to_audience(runner, tenant_a.id, 1)
    age_delivery(cid)
    pixel, clicks = tracking_urls(next(iter(outbox_html(cid).values())))
    for path in (pixel, pixel, clicks[0]):
        hit(client, path)
    confirm_hits()  # the endpoint's XADDs are pipelined: wait for their replies before reading
    redis = redis_connection()
    _ensure_group(redis)
    # A writer reads the three entries and dies before writing them.
    [(_stream, taken)] = redis.xreadgroup(GROUP, "writer-that-died", {STREAM: ">"}, count=10)
    assert len(taken) == 3
    assert drain_hits(consumer="next-writer", reclaim_idle_ms=0) == {"read": 3, "written": 3, "discarded": 0}
    # Another writer commits two new entries, then dies before acknowledging them.
    hit(client, pixel)
    hit(client, clicks[1])
    confirm_hits()
    [(_stream, taken)] = redis.xreadgroup(GROUP, "writer-died-after-commit", {STREAM: ">"}, count=10)
    assert write_batch(_decode(taken)) == (2, 0)
    assert redis.xpending(STREAM, GROUP)["pending"] == 2
    # The next writer takes them over, sees they are written, and only acknowledges them.
    assert drain_hits(consumer="third-writer", reclaim_idle_ms=0) == {"read": 2, "written": 0, "discarded": 0}
    assert redis.xpending(STREAM, GROUP)["pending"] == 0 and redis.xlen(STREAM) == 0
    db.session.expire_all()
    recipient = _recipients(cid)["fan0@example.com"]
    assert (recipient.opens, recipient.clicks) == (3, 2)
    assert len(db.session.scalars(select(TrackingHit)).all()) == 5


def test_a_web_process_killed_right_after_answering_loses_no_hit(app, tenant_a, runner):
    """Hits are spooled before the answer: a process killed (SIGKILL) the moment it has
    answered still gets every hit into the stream (the next to scan its spool sends them)."""
    import subprocess
    import sys

    cid = send_to_audience(runner, tenant_a.id, 1)
    pixel, _ = tracking_urls(next(iter(outbox_html(cid).values())))
    script = (
        "import os, signal\n"
        "from webapp import create_app\n"
        f"app = create_app({{'TESTING': True, 'SECRET_KEY': {app.config['SECRET_KEY']!r}, "
        f"'SQLALCHEMY_DATABASE_URI': {app.config['SQLALCHEMY_DATABASE_URI']!r}, "
        f"'REDIS_URL': {app.config['REDIS_URL']!r}, "
        f"'TRACKING_SPOOL_DIR': {app.config['TRACKING_SPOOL_DIR']!r}}})\n"
        "client = app.test_client()\n"
        f"answered = sum(client.get({pixel!r}).status_code == 200 for _ in range(300))\n"
        "print(answered, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == -9 and done.stdout.strip() == "300", done.stderr[-2000:]
    # Killed mid-batch, a batch may reach the stream twice (sent, then sent again from the
    # spool): read more than once, written once.
    written = write_hits()
    assert written["written"] == 300 and written["discarded"] == 0 and written["read"] >= 300
    assert db.session.scalar(select(CampaignRecipient.opens).where(CampaignRecipient.campaign_id == cid)) == 300


def test_stats_read_counters_and_rollups_never_raw_hits_or_recipients(client, api, tenant_a, runner):
    """What keeps stats fast at a million recipients: no statement of the stats endpoints
    reads tracking_hits or campaign_recipients."""
    from tests.sql_support import sql_sent

    cid = send_to_audience(runner, tenant_a.id, 2)
    pixel, _ = tracking_urls(next(iter(outbox_html(cid).values())))
    hit(client, pixel)
    write_hits()
    with sql_sent() as statements:
        one = api.get(f"/campaigns/{cid}/stats").get_json()
        listed = api.get("/campaigns/stats").get_json()["data"]
    assert one["opens"]["all"] == 1 and listed[0]["opens"]["all"] == 1
    assert statements and not [s for s in statements if "tracking_hits" in s or "campaign_recipients" in s]


def test_a_malformed_stream_entry_is_discarded_not_retried_forever(tenant_a, runner):
    cid = send_to_audience(runner, tenant_a.id, 1)
    token = _recipients(cid)["fan0@example.com"].token
    redis_connection().xadd(STREAM, {"h": "o\x1f" + token + "\x1fnot-a-number"})
    queue_hit(token, "open", utcnow())
    assert write_hits() == {"read": 2, "written": 1, "discarded": 1}
    assert redis_connection().xlen(STREAM) == 0
