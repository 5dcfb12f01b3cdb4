"""The report's recipients (filters, counts, pages both ways) and the campaigns list's
figures, sorting, search and pages, read in one query."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.reports.report_support import recipient, sent_campaign
from tests.sql_support import sql_sent
from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.types import utcnow
from webapp.models import CustomerActivity, EmailCampaign
from webapp.services.campaigns.listing import campaign_rows
from webapp.services.campaigns.recipients import filter_counts, recipients_page


@pytest.fixture
def five_recipients(tenant_a):
    campaign = sent_campaign(tenant_a.id, "Autumn", sent=4, recipients=5)
    rows = [recipient(campaign, "ann@example.com", human_opens=2, human_clicks=1),
            recipient(campaign, "bob@example.com", human_opens=1),
            recipient(campaign, "cy@example.com", opens=1),  # only a machine opened
            recipient(campaign, "dee@example.com"),
            recipient(campaign, "eve@other.org", status="failed", error="550 no such user")]
    # eve's hard bounce, as delivery records it
    db.session.add(CustomerActivity(tenant_id=tenant_a.id, customer_id=rows[4].customer_id, type="email_bounced",
                                    properties={"campaign_id": campaign.id, "reply": "550"}))
    db.session.commit()
    return campaign


def _emails(page):
    return [r.email.split("@")[0] for r in page.items]


def test_recipients_page_forward_and_back_with_positions(tenant_a, five_recipients):
    first = recipients_page(tenant_a.id, five_recipients.id, limit=2)
    second = recipients_page(tenant_a.id, five_recipients.id, limit=2, cursor=first.next_cursor)
    third = recipients_page(tenant_a.id, five_recipients.id, limit=2, cursor=second.next_cursor)
    back = recipients_page(tenant_a.id, five_recipients.id, limit=2, cursor=third.prev_cursor)
    start = recipients_page(tenant_a.id, five_recipients.id, limit=2, cursor=back.prev_cursor)

    assert [_emails(p) for p in (first, second, third)] == [["eve", "dee"], ["cy", "bob"], ["ann"]]
    assert [(p.first, p.last, p.total) for p in (first, second, third)] == [(1, 2, 5), (3, 4, 5), (5, 5, 5)]
    assert first.prev_cursor is None and third.next_cursor is None
    assert _emails(back) == ["cy", "bob"] and (back.first, back.last) == (3, 4)
    assert _emails(start) == ["eve", "dee"] and start.first == 1 and start.prev_cursor is None


def test_recipients_filters_and_their_counts(tenant_a, five_recipients):
    def emails(**filters):
        return _emails(recipients_page(tenant_a.id, five_recipients.id, **filters))

    assert emails(engagement="opened") == ["bob", "ann"]
    assert emails(engagement="clicked") == ["ann"]
    assert emails(engagement="not_opened") == ["dee", "cy"]
    assert emails(engagement="machine_only") == ["cy"]
    assert emails(engagement="bounced") == ["eve"]
    assert emails(status="failed") == ["eve"]
    assert emails(email="EXAMPLE.COM", engagement="opened") == ["bob", "ann"]
    assert emails(email="%") == []  # a wildcard is a character like any other
    counts = filter_counts(tenant_a.id, five_recipients.id)
    assert counts["all"] == 5
    assert counts["status"] == {"pending": 0, "sending": 0, "sent": 4, "failed": 1, "skipped": 0}
    assert counts["engagement"] == {"opened": 2, "clicked": 1, "not_opened": 2, "machine_only": 1, "bounced": 1,
                                   "complained": 0}
    assert filter_counts(tenant_a.id, five_recipients.id, email="other.org")["all"] == 1


@pytest.mark.parametrize("email", [None, "example.com", "nobody"])
@pytest.mark.parametrize("status", [None, "sent", "failed", "pending", "bogus"])
@pytest.mark.parametrize("engagement", [None, "opened", "clicked", "not_opened", "machine_only", "bounced", "bogus"])
def test_a_page_given_the_filter_counts_has_the_total_it_would_have_counted(tenant_a, five_recipients, email, status,
                                                                            engagement):
    """The report passes filter_counts() to the page: its total is the same whichever filters,
    and only a combination the counts do not hold (status and engagement) is counted again."""
    counts = filter_counts(tenant_a.id, five_recipients.id, email)
    with sql_sent() as statements:
        given = recipients_page(tenant_a.id, five_recipients.id, email=email, status=status, engagement=engagement,
                                counts=counts)
    counted = recipients_page(tenant_a.id, five_recipients.id, email=email, status=status, engagement=engagement)

    assert given.total == counted.total and _emails(given) == _emails(counted)
    both = status in ("sent", "failed", "pending") and engagement not in (None, "bogus")
    assert sum("count(" in s.lower() for s in statements) == (1 if both else 0)


def test_recipients_of_another_tenants_campaign_are_not_read(tenant_b, five_recipients):
    assert recipients_page(tenant_b.id, five_recipients.id).items == []
    assert filter_counts(tenant_b.id, five_recipients.id)["all"] == 0


def test_a_tampered_recipients_cursor_names_the_cursor(tenant_a, five_recipients):
    with pytest.raises(ValidationFailed) as raised:
        recipients_page(tenant_a.id, five_recipients.id, cursor="WzEsIm5leHQiLC0xXQ")
    assert raised.value.field == "cursor"


# --- the campaigns list ------------------------------------------------------------------

@pytest.fixture
def campaigns_a(tenant_a, tenant_b):
    now = utcnow()
    made = {
        "big": sent_campaign(tenant_a.id, "Big season", started=now - timedelta(days=5), sent=100, opened=20,
                             clicked=5, revenue=(10.0,)),
        "small": sent_campaign(tenant_a.id, "Small 50% off", started=now - timedelta(days=4), sent=10, opened=6,
                               clicked=1, machine_opened=3, revenue=(40.0, 2.5)),
        "quiet": sent_campaign(tenant_a.id, "Quiet", started=now - timedelta(days=3), sent=40),
    }
    draft = EmailCampaign(tenant_id=tenant_a.id, name="Draft", subject="x", html_content="<p>x</p>", status="draft")
    db.session.add(draft)
    sent_campaign(tenant_b.id, "Theirs", sent=5, opened=5, revenue=(999.0,))
    db.session.commit()
    made["draft"] = draft
    return made


def _names(page):
    return [row.campaign.name for row in page.items]


def test_list_rows_carry_hand_counted_figures_without_machine_opens(tenant_a, campaigns_a):
    rows = {row.campaign.name: row for row in campaign_rows(tenant_a.id).items}

    small = rows["Small 50% off"]
    assert (small.recipients, small.opened, small.clicked) == (10, 6, 1)  # 3 machine-only opens left out
    assert (small.open_rate, small.click_rate, float(small.revenue)) == (0.6, 0.1, 42.5)
    assert rows["Quiet"].revenue == 0 and rows["Quiet"].open_rate == 0
    assert not rows["Draft"].reported
    assert "Theirs" not in rows


@pytest.mark.parametrize(("sort", "direction", "expected"), [
    ("open_rate", "desc", ["Small 50% off", "Big season", "Quiet", "Draft"]),
    ("open_rate", "asc", ["Quiet", "Big season", "Small 50% off", "Draft"]),
    ("click_rate", "desc", ["Small 50% off", "Big season", "Quiet", "Draft"]),
    ("recipients", "desc", ["Big season", "Quiet", "Small 50% off", "Draft"]),
    ("recipients", "asc", ["Small 50% off", "Quiet", "Big season", "Draft"]),
    ("revenue", "desc", ["Small 50% off", "Big season", "Quiet", "Draft"]),
    ("revenue", "asc", ["Quiet", "Big season", "Small 50% off", "Draft"]),
    ("name", "asc", ["Big season", "Draft", "Quiet", "Small 50% off"]),
    ("newest", "desc", ["Draft", "Quiet", "Small 50% off", "Big season"]),
])
def test_list_sorts_by_each_figure_with_unsent_campaigns_last(tenant_a, campaigns_a, sort, direction, expected):
    assert _names(campaign_rows(tenant_a.id, sort=sort, direction=direction)) == expected


def test_list_search_matches_part_of_the_name_and_wildcards_literally(tenant_a, campaigns_a):
    assert _names(campaign_rows(tenant_a.id, q="SEASON")) == ["Big season"]
    assert _names(campaign_rows(tenant_a.id, q="50%")) == ["Small 50% off"]
    assert _names(campaign_rows(tenant_a.id, q="%")) == ["Small 50% off"]
    assert _names(campaign_rows(tenant_a.id, q="their")) == []


@pytest.mark.parametrize("sort", ["newest", "open_rate"])
def test_sorted_pages_follow_on_without_repeats(tenant_a, campaigns_a, sort):
    first = campaign_rows(tenant_a.id, sort=sort, limit=3)
    rest = campaign_rows(tenant_a.id, sort=sort, limit=3, cursor=first.next_cursor)

    assert _names(first) + _names(rest) == _names(campaign_rows(tenant_a.id, sort=sort))
    assert rest.next_cursor is None


def test_a_page_of_the_list_and_its_figures_is_one_query(tenant_a, campaigns_a):
    db.session.commit()
    with sql_sent() as statements:
        page = campaign_rows(tenant_a.id, sort="revenue")
        [row.campaign.name for row in page.items]
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1


def test_a_cursor_of_the_other_ordering_is_refused(tenant_a, campaigns_a):
    newest = campaign_rows(tenant_a.id, limit=1)
    with pytest.raises(ValidationFailed):
        campaign_rows(tenant_a.id, sort="open_rate", cursor=newest.next_cursor)

