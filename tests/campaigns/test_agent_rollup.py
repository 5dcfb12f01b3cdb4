"""The hit writer's per-user-agent rollup (campaign_agent_hits), which the report's mail
clients and devices read: after any batches of hits, it holds exactly the raw hits grouped by
campaign, kind, person or machine, and user agent; a batch delivered twice counts once."""

from __future__ import annotations

import itertools
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.campaigns.tracking_support import BROWSER_UA, age_delivery, send_to_audience
from tests.reports.report_support import GMAIL_PROXY, IPHONE_MAIL, OUTLOOK_DESKTOP
from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import CampaignAgentHits, CampaignLink, CampaignRecipient, TrackingHit
from webapp.services.campaigns.clients import clients_and_devices
from webapp.services.tracking import write_batch
from webapp.services.tracking.batches import agent_key

# Real agents (people and machines), none at all, and hostile text up to the 1,000 characters
# the endpoints keep: beyond a PostgreSQL index entry in bytes once it is not ASCII.
AGENTS = st.one_of(
    st.sampled_from(["", BROWSER_UA, IPHONE_MAIL, OUTLOOK_DESKTOP, GMAIL_PROXY, "Mimecast URL Protect"]),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\x1f\n\r"), max_size=40),
    st.builds(lambda c, n: c * n, st.sampled_from(["é", "漢", "a", "🎟"]), st.integers(900, 1000)),
)
HITS = st.lists(st.tuples(st.integers(0, 4), st.sampled_from(["open", "click"]), AGENTS,
                          st.sampled_from(["GET", "GET", "HEAD"])), min_size=1, max_size=10)


def _rollup() -> Counter:
    rows = db.session.execute(select(CampaignAgentHits.campaign_id, CampaignAgentHits.kind,
                                     CampaignAgentHits.is_machine, CampaignAgentHits.agent_key,
                                     CampaignAgentHits.user_agent, CampaignAgentHits.hits))
    found = Counter()
    for campaign_id, kind, machine, key, user_agent, hits in rows:
        assert key == agent_key(user_agent)  # the agent kept beside its key is the one hashed
        found[(campaign_id, kind, machine, user_agent or "")] += hits
    return +found


def _raw() -> Counter:
    rows = db.session.execute(select(TrackingHit.campaign_id, TrackingHit.kind, TrackingHit.is_machine,
                                     TrackingHit.user_agent, func.count())
                              .group_by(TrackingHit.campaign_id, TrackingHit.kind, TrackingHit.is_machine,
                                        TrackingHit.user_agent))
    found = Counter()
    for campaign_id, kind, machine, user_agent, count in rows:
        found[(campaign_id, kind, machine, user_agent or "")] += count
    return found


def test_the_agent_rollup_is_the_hits_grouped_by_agent_whatever_the_batches(tenant_a, tenant_b, runner):
    ours = send_to_audience(runner, tenant_a.id, 3)
    theirs = send_to_audience(runner, tenant_b.id, 2, prefix="their")
    targets = []
    for campaign_id in (ours, theirs):
        age_delivery(campaign_id)
        link = db.session.scalar(select(func.min(CampaignLink.id)).where(CampaignLink.campaign_id == campaign_id))
        targets += [(token, link) for token in db.session.scalars(
            select(CampaignRecipient.token).where(CampaignRecipient.campaign_id == campaign_id))]
    stream_ids = itertools.count(1)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(hits=HITS, redelivered=st.booleans())
    def check(hits, redelivered):
        at = utcnow().timestamp()
        entries = [(f"{next(stream_ids)}-0", {"k": kind[0], "t": targets[who][0], "l": str(targets[who][1]),
                                              "n": "2", "at": f"{at:.6f}", "m": method, "ip": "198.51.100.7",
                                              "ua": agent, "ref": ""})
                   for who, kind, agent, method in hits]
        assert write_batch(entries)[0] == len(entries)
        if redelivered:  # a spool recovered after a crash sends the batch again
            assert write_batch(entries) == (0, 0)
        db.session.expire_all()
        assert _rollup() == _raw()

    check()
    # Each tenant's report reads its own campaign's rows, never another tenant's.
    assert clients_and_devices(tenant_b.id, ours, people_only=False) == {
        "clients": [], "open_devices": [], "click_devices": []}
    mine = clients_and_devices(tenant_a.id, ours, people_only=False)
    counted = sum(n for (campaign_id, kind, _, _), n in _raw().items() if campaign_id == ours and kind == "open")
    assert sum(share.count for share in mine["clients"]) == counted
