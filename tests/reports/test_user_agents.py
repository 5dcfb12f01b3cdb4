"""Mail clients and devices read from real user agents, and each distinct agent parsed once."""

from __future__ import annotations

import pytest

from tests.reports.report_support import (
    CHROME_ANDROID,
    GMAIL_PROXY,
    IPAD_MAIL,
    IPHONE_MAIL,
    OUTLOOK_DESKTOP,
    THUNDERBIRD,
    recipient,
    sent_campaign,
    tracking_hit,
)
from webapp.services.campaigns.clients import clients_and_devices
from webapp.services.user_agents import Agent, describe_agent, reading_place

OUTLOOK_MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
               "Microsoft Outlook 16.80")
APPLE_MAIL_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"


@pytest.mark.parametrize(("user_agent", "expected"), [
    (IPHONE_MAIL, Agent("Apple Mail", "Phone")),
    (IPAD_MAIL, Agent("Apple Mail", "Tablet")),
    (APPLE_MAIL_MAC, Agent("Apple Mail", "Desktop")),
    (GMAIL_PROXY, Agent("Gmail", "Unknown")),
    (OUTLOOK_DESKTOP, Agent("Outlook", "Desktop")),
    (OUTLOOK_MAC, Agent("Outlook", "Desktop")),
    (CHROME_ANDROID, Agent("Webmail in a browser", "Phone")),
    (THUNDERBIRD, Agent("Thunderbird", "Desktop")),
    ("YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", Agent("Yahoo Mail", "Unknown")),
    ("Mozilla/5.0", Agent("Other", "Unknown")),
    (None, Agent("Other", "Unknown")),
])
def test_real_user_agents_name_the_mail_client_and_the_device(user_agent, expected):
    assert describe_agent(user_agent) == expected


@pytest.mark.parametrize(("user_agent", "words"), [
    (IPHONE_MAIL, "on iPhone"), (IPAD_MAIL, "on iPad"), (APPLE_MAIL_MAC, "on a Mac"), (GMAIL_PROXY, "in Gmail"),
    (OUTLOOK_MAC, "in Outlook"), (CHROME_ANDROID, "on Android"), (THUNDERBIRD, "in Thunderbird"),
    ("Mozilla/5.0", None), ("", None), (None, None), (42, None),
])
def test_the_timeline_says_where_an_email_was_read_from_the_same_reading(user_agent, words):
    assert reading_place(user_agent) == words


def test_report_counts_people_opens_by_client_and_device_and_leaves_machines_out(tenant_a, tenant_b):
    campaign = sent_campaign(tenant_a.id, "Autumn")
    ann, bob, cy = (recipient(campaign, f"{n}@example.com") for n in ("ann", "bob", "cy"))
    tracking_hit(ann, "open", IPHONE_MAIL)
    tracking_hit(ann, "open", IPHONE_MAIL)
    tracking_hit(ann, "click", IPHONE_MAIL)
    tracking_hit(bob, "open", OUTLOOK_DESKTOP)
    tracking_hit(cy, "open", CHROME_ANDROID)
    tracking_hit(cy, "click", OUTLOOK_DESKTOP)
    tracking_hit(cy, "open", GMAIL_PROXY, machine=True)  # a machine: not on the people-only report
    other = recipient(sent_campaign(tenant_b.id, "Theirs"), "zed@example.com")
    tracking_hit(other, "open", THUNDERBIRD)

    found = clients_and_devices(tenant_a.id, campaign.id)

    assert [(s.label, s.count, round(s.percent)) for s in found["clients"]] == [
        ("Apple Mail", 2, 50), ("Outlook", 1, 25), ("Webmail in a browser", 1, 25)]
    assert [(s.label, s.count) for s in found["open_devices"]] == [("Phone", 3), ("Desktop", 1)]
    assert [(s.label, s.count) for s in found["click_devices"]] == [("Desktop", 1), ("Phone", 1)]
    with_machines = clients_and_devices(tenant_a.id, campaign.id, people_only=False)
    assert ("Gmail", 1) in [(s.label, s.count) for s in with_machines["clients"]]
    assert clients_and_devices(tenant_b.id, campaign.id)["clients"] == []  # another tenant's campaign: nothing


def test_each_distinct_user_agent_is_parsed_once(tenant_a):
    campaign = sent_campaign(tenant_a.id, "Autumn")
    agent = IPHONE_MAIL + " parsed-once-probe"
    for n in range(4):
        tracking_hit(recipient(campaign, f"p{n}@example.com"), "open", agent)
    describe_agent.cache_clear()

    clients_and_devices(tenant_a.id, campaign.id)
    clients_and_devices(tenant_a.id, campaign.id)

    info = describe_agent.cache_info()
    assert (info.misses, info.hits) == (1, 1)  # one rollup row for four hits; cached after
