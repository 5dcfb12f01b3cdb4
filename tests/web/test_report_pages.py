"""The pages that show figures: the campaigns list (figures, sorting, search), the campaign
report (comparison, mail clients and devices, recipients), the dashboard's links and revenue
trend, and the workflows list."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.campaigns.tracking_support import age_delivery, hit, outbox_html, send_to_audience, tracking_urls, write_hits
from tests.reports.report_support import IPHONE_MAIL, OUTLOOK_DESKTOP, recipient, sent_campaign, tracking_hit
from tests.web.conftest import add_purchase, make_customer
from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.services import workflows


def figures(html: str, row_marker: str) -> dict[str, str]:
    """{data-testid: text} of the table row holding `row_marker`."""
    row = next(r for r in re.findall(r"<tr[ >].*?</tr>", html, re.S) if row_marker in r)
    return {k: v.strip() for k, v in re.findall(r'data-testid="([a-z-]+)">(?:<a[^>]*>)?([^<]+)<', row)}


def test_list_shows_people_only_rates_of_a_really_tracked_send(client, owner_a, tenant_a, runner):
    cid = send_to_audience(runner, tenant_a.id, 2)
    age_delivery(cid)
    pages = outbox_html(cid)
    pixel0, clicks0 = tracking_urls(pages["fan0@example.com"])
    pixel1, _ = tracking_urls(pages["fan1@example.com"])
    hit(client, pixel0, ua=IPHONE_MAIL)
    hit(client, clicks0[0], ua=IPHONE_MAIL)
    hit(client, pixel1, ua="Mozilla/5.0", ip="17.58.1.1")  # Apple's privacy proxy: a machine
    write_hits()

    row = figures(owner_a.get("/campaigns/").get_data(as_text=True), f'id="campaign-{cid}"')

    assert (row["recipients"], row["open-rate"], row["click-rate"]) == ("2", "50.0%", "50.0%")
    report = owner_a.get(f"/campaigns/{cid}/report").get_data(as_text=True)
    assert 'data-testid="open-rate">50.0%<' in report  # the same rule as the report


def test_sort_links_say_their_order_and_flip_it(owner_a, tenant_a):
    sent_campaign(tenant_a.id, "Low", sent=10, opened=1)
    sent_campaign(tenant_a.id, "High", sent=10, opened=9)

    html = owner_a.get("/campaigns/?sort=open_rate&dir=desc").get_data(as_text=True)

    assert html.index("High") < html.index("Low")
    assert 'aria-sort="descending"' in html and html.count("aria-sort=") == 1
    assert 'href="/campaigns/?sort=open_rate&amp;dir=asc"' in html
    assert 'href="/campaigns/?sort=click_rate&amp;dir=desc"' in html
    ascending = owner_a.get("/campaigns/?sort=open_rate&dir=asc").get_data(as_text=True)
    assert ascending.index("Low") < ascending.index("High") and 'aria-sort="ascending"' in ascending


def test_search_as_you_type_swaps_the_list_and_keeps_the_order(owner_a, tenant_a):
    sent_campaign(tenant_a.id, "Autumn gala", sent=10, opened=2)
    sent_campaign(tenant_a.id, "Spring gala", sent=10, opened=8)
    sent_campaign(tenant_a.id, "Winter sale", sent=10, opened=9)

    response = owner_a.get("/campaigns/?q=GALA&sort=open_rate&dir=desc", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)

    assert response.status_code == 200 and "<html" not in html and "HX-Request" in response.headers["Vary"]
    assert "Winter sale" not in html and html.index("Spring gala") < html.index("Autumn gala")
    assert 'href="/campaigns/?status=sent&amp;q=GALA&amp;sort=open_rate&amp;dir=desc"' in html
    nothing = owner_a.get("/campaigns/?q=zzz").get_data(as_text=True)
    assert "No campaign named like “zzz”" in nothing and "clear the search" in nothing


def test_a_tampered_list_cursor_shows_the_first_page(owner_a, tenant_a):
    sent_campaign(tenant_a.id, "Only one", sent=3)
    html = owner_a.get("/campaigns/?sort=revenue&cursor=not-a-cursor").get_data(as_text=True)
    assert "Only one" in html


def test_report_compares_with_the_last_campaigns_or_says_why_not(owner_a, tenant_a, tenant_b):
    first = sent_campaign(tenant_a.id, "First", started=utcnow() - timedelta(days=8), sent=10, opened=2)
    sent_campaign(tenant_b.id, "Theirs", started=utcnow() - timedelta(days=9), sent=10, opened=10)
    second = sent_campaign(tenant_a.id, "Second", started=utcnow() - timedelta(days=1), sent=10, opened=6)

    alone = owner_a.get(f"/campaigns/{first.id}/report").get_data(as_text=True)
    compared = owner_a.get(f"/campaigns/{second.id}/report").get_data(as_text=True)

    assert 'data-testid="no-comparison"' in alone and "first sent campaign" in alone
    item = re.search(r'data-testid="compare-open_rate">.*?</li>', compared, re.S).group(0)
    assert "+40.0 pts" in item and "vs your last campaign" in item and 'data-verdict="better"' in item
    assert "▲" in item  # the direction is a sign and a word, not only a colour


def test_report_shows_mail_clients_and_devices_as_bars(owner_a, tenant_a):
    campaign = sent_campaign(tenant_a.id, "Autumn", sent=3, opened=2)
    ann, bob = recipient(campaign, "ann@example.com"), recipient(campaign, "bob@example.com")
    tracking_hit(ann, "open", IPHONE_MAIL)
    tracking_hit(bob, "open", OUTLOOK_DESKTOP)

    html = owner_a.get(f"/campaigns/{campaign.id}/report").get_data(as_text=True)

    clients = re.search(r'data-testid="clients">.*?</ul>', html, re.S).group(0)
    assert "Apple Mail" in clients and "Outlook" in clients and clients.count("50%") == 2
    assert 'class="fill" width="50.0"' in clients
    assert "Phone" in html and "Desktop" in html
    assert "iPhone OS 17_4" not in html.split('data-testid="agents"')[1].split("</section>")[0]


def test_report_recipients_search_count_and_pages_through_htmx(owner_a, tenant_a):
    campaign = sent_campaign(tenant_a.id, "Autumn", sent=30)
    for n in range(30):
        recipient(campaign, f"fan{n:02d}@example.com", human_opens=1 if n % 3 == 0 else 0)

    page = owner_a.get(f"/campaigns/{campaign.id}/report").get_data(as_text=True)
    assert "Showing 1–25 of 30" in page and "Opened (10)" in page and "Sent (30)" in page
    next_url = re.search(r'rel="next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    second = owner_a.get(next_url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in second and "Showing 26–30 of 30" in second and 'rel="prev"' in second
    searched = owner_a.get(f"/campaigns/{campaign.id}/report?email=fan0&engagement=opened",
                           headers={"HX-Request": "true"}).get_data(as_text=True)
    assert re.findall(r">(fan\d\d)@", searched) == ["fan09", "fan06", "fan03", "fan00"]
    assert "Showing 1–4 of 4 matching" in searched


def test_dashboard_figures_link_to_pages_whose_counts_match(owner_a, tenant_a):
    ann = make_customer(tenant_a.id, "ann@example.com")
    bob = make_customer(tenant_a.id, "bob@example.com")
    make_customer(tenant_a.id, "cy@example.com", email_status="unsubscribed")
    add_purchase(tenant_a.id, ann.id, 60, order_id="A-1", days_ago=2)
    add_purchase(tenant_a.id, ann.id, 30, order_id="A-2", days_ago=3)
    add_purchase(tenant_a.id, bob.id, 40, order_id="B-0", days_ago=40)  # the previous 30 days

    html = owner_a.get("/dashboard").get_data(as_text=True)

    def link(testid: str) -> str:
        return re.search(rf'href="([^"]+)" data-testid="{testid}"', html).group(1).replace("&amp;", "&")

    assert "Up 125% vs the previous 30 days" in html and "▲" in html
    assert "from 1 customer" in html
    customers = owner_a.get(link("customers-link")).get_data(as_text=True)
    assert "3 in total" in customers
    subscribed = owner_a.get(link("subscribed-link")).get_data(as_text=True)
    assert 'data-testid="matching-count">2<' in subscribed and "cy@example.com" not in subscribed
    buyers = owner_a.get(link("revenue-link")).get_data(as_text=True)
    assert 'data-testid="matching-count">1<' in buyers and "ann@example.com" in buyers
    assert "bob@example.com" not in buyers
    assert link("orders-link") == link("revenue-link")


def test_dashboard_revenue_trend_without_a_previous_month_says_so(owner_a, tenant_a):
    ann = make_customer(tenant_a.id, "ann@example.com")
    add_purchase(tenant_a.id, ann.id, 60, order_id="A-1", days_ago=2)

    html = owner_a.get("/dashboard").get_data(as_text=True)

    assert "No revenue in the 30 days before: nothing to compare with yet" in html


def test_dashboard_revenue_going_down_says_down(owner_a, tenant_a):
    ann = make_customer(tenant_a.id, "ann@example.com")
    add_purchase(tenant_a.id, ann.id, 50, order_id="A-1", days_ago=2)
    add_purchase(tenant_a.id, ann.id, 200, order_id="A-0", days_ago=45)

    html = owner_a.get("/dashboard").get_data(as_text=True)

    assert "Down 75% vs the previous 30 days" in html and "▼" in html


def test_workflows_list_shows_each_workflows_figures(owner_a, tenant_a):
    workflow = workflows.create_workflow(tenant_a.id, {
        "name": "Welcome", "trigger_type": "custom",
        "steps": [{"type": "send_email", "config": {"subject": "Hi", "content": "<p>Hi</p>"}}]})
    step = workflows.steps_of(workflow.id)[0]
    step.campaign_id = sent_campaign(tenant_a.id, "hidden", kind="workflow", sent=8, opened=4, clicked=2,
                                     revenue=(12.5,)).id
    db.session.commit()

    row = figures(owner_a.get("/workflows/").get_data(as_text=True), f'data-workflow-id="{workflow.id}"')

    assert (row["emails-sent"], row["opened"], row["clicked"]) == ("8", "4", "2")
    assert row["revenue"].startswith("£12.50")
    assert row["in-now"] == "0" and row["completed"] == "0"
