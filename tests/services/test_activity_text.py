"""Activity summaries: every type the product or the platform writes reads as one sentence,
with links to the tenant's own rows; unknown types show their values, labelled."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.services.activities import record_activity
from webapp.services.activity_text import ActivityText, Link, Moment, Money, Text, for_activities, with_moments
from webapp.services.activity_text.names import CampaignName, Names, lookup_names
from webapp.services.activity_text.sentences import SENTENCES
from webapp.services.activity_text.values import label, labelled, summary_of
from webapp.services.customers import upsert_customer
from webapp.web.filters import ACTIVITY_LABELS

UA_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Mobile/15E148")
NAMES = Names(campaigns={7: CampaignName("Jazz weekly"), 8: CampaignName("Workflow: Post-purchase", True, 3),
                         9: CampaignName("Workflow: Old", True, None)},
              segments={4: "VIPs"}, workflows={3: "Post-purchase", 5: "Welcome"}, enrollments={11: 3},
              events={"evt_9": "Darts Night"})
TEXT = ActivityText(NAMES)


def plain(parts) -> str:
    """A sentence as a reader sees it (links by their text, money as amount + code)."""
    out = []
    for p in parts:
        if isinstance(p, Money):
            out.append(f"{p.amount} {p.currency or ''}".strip())
        elif isinstance(p, Moment):
            out.append(f"<{p.at:%Y-%m-%d %H:%M}>")
        else:
            out.append(p.text)
    return "".join(out)


def links(parts) -> list[tuple[str, str, dict]]:
    return [(p.text, p.endpoint, p.args) for p in parts if isinstance(p, Link)]


def summary(activity_type: str, properties) -> list:
    return TEXT.summary(SimpleNamespace(type=activity_type, properties=properties))


# --- every known type --------------------------------------------------------------------------

def test_a_purchase_says_how_many_tickets_for_which_event_what_it_cost_and_the_order():
    parts = summary("purchase", {"order_total": 84.0, "currency": "gbp", "order_id": "1042", "tickets": 2,
                                 "event": {"id": "evt_1", "name": "Jazz Night", "venue": "Hall"}})
    assert plain(parts) == "Bought 2 tickets for Jazz Night (84.0 GBP, order 1042)"
    assert Money(Decimal("84.0"), "GBP") in parts


def test_a_purchase_counts_ticket_lines_and_reads_without_event_or_currency():
    parts = summary("purchase", {"order_total": 30, "tickets": [{"type": "VIP", "quantity": 2}, {"type": "Std"}]})
    assert plain(parts) == "Bought 3 tickets (30)"
    assert plain(summary("purchase", {"order_total": "oops", "tickets": 1})) == "Bought 1 ticket"


def test_signups_say_where_people_signed_up():
    assert plain(summary("signup", {"source": "api"})) == "Signed up through the API"
    assert plain(summary("signup", {"source": "box_office"})) == "Signed up at the box office"
    assert plain(summary("signup", {"source": "summer_fair"})) == "Signed up via summer fair"
    assert plain(summary("signup", {})) == "Signed up"
    assert plain(summary("signup", {"source": "form", "form_id": 3, "form_name": "Jazz club"})) == \
        "Signed up with the form “Jazz club”"
    assert plain(summary("signup", {"source": "form"})) == "Signed up with a sign-up form"


def test_a_note_shows_its_text_and_author_and_no_details_list():
    activity = SimpleNamespace(type="note", properties={"text": "Call back\nabout seats", "author": "sam@x.com"})
    assert plain(TEXT.summary(activity)) == "Call back\nabout seats — sam@x.com"
    assert TEXT.details(activity) == []


def test_tags_name_the_tag_and_the_workflow_that_changed_it():
    assert plain(summary("tag_added", {"tag": "vip"})) == "Tagged vip"
    parts = summary("tag_removed", {"tag": "vip", "workflow_id": 5})
    assert plain(parts) == "Removed tag vip by workflow Welcome"
    assert links(parts) == [("Welcome", "workflows.builder", {"workflow_id": 5})]


def test_emails_link_their_campaign_report():
    parts = summary("email_sent", {"campaign_id": 7, "message_id": "<abc@crm>"})
    assert plain(parts) == "Sent Jazz weekly"
    assert links(parts) == [("Jazz weekly", "reports.report", {"campaign_id": 7})]
    assert plain(summary("email_delivered", {"campaign_id": 7})) == "Delivered Jazz weekly"
    assert plain(summary("email_bounced", {"campaign_id": 7, "reply": "550 no such user"})) == \
        "Could not deliver Jazz weekly: the address bounced"
    assert plain(summary("email_complained", {"campaign_id": 7})) == "Marked Jazz weekly as spam"
    assert plain(summary("email_failed", {"campaign_id": 7})) == "Could not send Jazz weekly"


def test_an_open_says_on_which_device_without_the_user_agent_or_address():
    parts = summary("email_opened", {"campaign_id": 7, "user_agent": UA_IPHONE, "ip": "198.51.100.7",
                                     "referer": "https://mail.example.com/"})
    assert plain(parts) == "Opened Jazz weekly on iPhone"
    assert plain(summary("email_opened", {"campaign_id": 7, "user_agent": "curl/8"})) == "Opened Jazz weekly"


def test_a_click_names_the_place_not_the_whole_url():
    parts = summary("email_clicked", {"campaign_id": 7, "url": "https://www.tickets.example.com/jazz/?utm_source=x",
                                      "user_agent": UA_IPHONE})
    assert plain(parts) == "Clicked tickets.example.com/jazz in Jazz weekly"


def test_a_workflows_email_names_the_workflow_not_its_hidden_campaign():
    parts = summary("email_sent", {"campaign_id": 8, "workflow_id": 3, "enrollment_id": 11})
    assert plain(parts) == "Sent an email from workflow Post-purchase"
    assert links(parts) == [("Post-purchase", "workflows.trace", {"workflow_id": 3, "enrollment_id": 11})]
    assert plain(summary("email_opened", {"campaign_id": 8})) == "Opened an email from workflow Post-purchase"
    # The step (and so its workflow) is gone: no link to a report the hidden campaign does not have.
    assert plain(summary("email_opened", {"campaign_id": 9})) == "Opened an email from a deleted workflow"


def test_a_campaign_that_is_not_found_is_not_linked():
    assert plain(summary("email_sent", {"campaign_id": 99})) == "Sent a deleted campaign"
    assert links(summary("email_sent", {"campaign_id": 99})) == []
    assert plain(summary("unsubscribed", {"campaign_id": 99, "campaign_name": "Old news"})) == \
        "Unsubscribed from Old news"
    # With topics, "emails" alone would be ambiguous: all marketing, or one topic.
    assert plain(summary("unsubscribed", {})) == "Unsubscribed from all marketing emails"
    assert plain(summary("resubscribed", {})) == "Subscribed to marketing emails again"


def test_topic_and_consent_changes_say_the_topic_and_where_they_came_from():
    assert plain(summary("topic_unsubscribed", {"topic_id": 3, "topic_name": "Jazz listings",
                                                "source": "preference_centre"})) == \
        "Unsubscribed from Jazz listings on the preference page"
    assert plain(summary("topic_subscribed", {"topic_name": "Surveys", "source": "api"})) == \
        "Subscribed to Surveys through the API"
    assert plain(summary("topic_subscribed", {})) == "Subscribed to a topic"
    assert plain(summary("unsubscribed", {"source": "import"})) == "Unsubscribed from all marketing emails by an import"
    assert plain(summary("resubscribed", {"source": "<script>"})) == "Subscribed to marketing emails again"
    assert plain(summary("resubscribed", {"source": "form", "form_name": "Jazz club"})) == \
        "Subscribed to marketing emails again, confirmed with the form “Jazz club”"


def test_segments_link_their_page():
    parts = summary("segment_entered", {"segment_id": 4, "segment_name": "VIPs"})
    assert plain(parts) == "Entered segment VIPs"
    assert links(parts) == [("VIPs", "segments.show", {"segment_id": 4})]
    assert plain(summary("segment_exited", {"segment_id": 40, "segment_name": "Gone"})) == \
        "Left segment Gone (since deleted)"


def test_workflow_activities_link_the_customers_trace():
    parts = summary("workflow_completed", {"workflow_id": 3, "enrollment_id": 11, "status": "completed"})
    assert plain(parts) == "Completed workflow Post-purchase"
    assert links(parts) == [("Post-purchase", "workflows.trace", {"workflow_id": 3, "enrollment_id": 11})]
    entered = summary("workflow_enrolled", {"workflow_ids": [3, 5], "enrollment_ids": [11, 12],
                                            "trigger": "purchase"})
    assert plain(entered) == "Entered workflows Post-purchase and Welcome after a purchase"
    # Enrollment 12 is not known to belong to workflow 5: the builder, not a trace.
    assert links(entered)[1] == ("Welcome", "workflows.builder", {"workflow_id": 5})
    exited = summary("workflow_exited", {"workflow_id": 3, "status": "exited", "reason": "conditions not met"})
    assert plain(exited) == "Left workflow Post-purchase: Conditions not met"
    failed = summary("workflow_exited", {"workflow_id": 3, "status": "failed", "reason": "step 2 failed"})
    assert plain(failed) == "Stopped in workflow Post-purchase after an error: Step 2 failed"


def test_a_ticket_scan_says_which_gate_for_which_event():
    props = {"event": {"id": "evt_1007", "name": "Jazz Night"}, "gate": "North", "tickets": 2}
    assert plain(summary("ticket_scan", props)) == "Scanned in at North gate for Jazz Night with 2 tickets"
    assert plain(summary("ticket_scanned", {"gate": "B"})) == "Scanned in at gate B"
    assert plain(summary("ticket_scanned", {"gate": "Gate 4"})) == "Scanned in at Gate 4"


def test_a_page_view_names_the_page_and_where_they_came_from():
    props = {"url": "https://tickets.example.com/events/evt_1", "event_id": "evt_1", "source": "email"}
    assert plain(summary("page_view", props)) == "Viewed tickets.example.com/events/evt_1 (from email)"
    assert plain(summary("page_view", {"title": "Jazz Night tickets"})) == "Viewed Jazz Night tickets"


def test_an_event_named_only_by_its_id_reads_by_the_name_the_tenants_purchases_give_it():
    props = {"url": "https://tickets.example.com/events/evt_9", "event_id": "evt_9", "source": "social"}
    assert plain(summary("page_view", props)) == "Viewed Darts Night (from social)"
    assert plain(summary("ticket_scan", {"event": {"id": "evt_9"}, "gate": "A"})) == \
        "Scanned in at gate A for Darts Night"


def test_every_type_with_a_sentence_has_a_label_in_the_one_label_table():
    assert set(SENTENCES) <= set(ACTIVITY_LABELS)


# --- the fallback for custom types --------------------------------------------------------------

def test_labels_come_from_keys():
    assert label("seat_row") == "Seat row"
    assert label("seatRow") == "Seat row"
    assert label("event", "name") == "Event name"
    assert label("VIP_level") == "VIP level"
    assert label("__") == "Value"


def test_a_custom_type_shows_its_first_values_labelled_and_flattened():
    props = {"seat_row": "F", "event": {"name": "Jazz Night", "doors": {"open": "19:00"}}, "perks": ["bar", "cloak"]}
    text = plain(summary("wishlist_added", props))
    assert text == "Seat row: F · Event name: Jazz Night · Event doors open: 19:00 · 1 more"
    details = {name: plain(value) for name, value in labelled(props)}
    assert details == {"Seat row": "F", "Event name": "Jazz Night", "Event doors open": "19:00",
                       "Perks": "bar, cloak"}


def test_the_fallback_reads_lists_of_objects_booleans_numbers_and_long_text():
    details = dict((n, plain(v)) for n, v in labelled({
        "seats": [{"row": "F", "number": 12}, {"row": "F", "number": 13.0}], "paid": True, "price": 12.5,
        "nothing": None, "many": list(range(8)), "essay": "word " * 200, "empty": []}))
    assert details["Seats"] == "Row F, number 12; Row F, number 13"
    assert (details["Paid"], details["Price"], details["Nothing"]) == ("yes", "12.5", "—")
    assert details["Many"] == "0, 1, 2, 3, 4 and 3 more"
    assert details["Essay"].endswith("…") and len(details["Essay"]) <= 500
    assert details["Empty"] == "none"


def test_iso_timestamps_become_moments_and_naive_ones_read_as_written():
    parts = dict(labelled({"starts_at": "2026-12-05T19:30:00+01:00", "doors": "2026-12-05T18:30:00",
                           "day": "2026-12-05"}))
    assert parts["Starts at"] == [Moment(datetime(2026, 12, 5, 18, 30, tzinfo=UTC))]
    assert plain(parts["Doors"]) == "Sat 5 Dec 2026, 18:30"
    assert plain(parts["Day"]) == "Sat 5 Dec 2026"


def test_free_text_with_timestamps_reads_as_local_moments():
    parts = with_moments("wait 2 days, until 2026-12-05T15:25:36.885485+00:00")
    assert parts[0] == Text("Wait 2 days, until ")
    assert parts[1] == Moment(datetime(2026, 12, 5, 15, 25, 36, 885485, tzinfo=UTC))
    assert with_moments(None) == []


def test_properties_that_are_not_an_object_still_read():
    assert plain(summary("purchase", ["x"])) == "x"
    assert plain(summary("custom_thing", {})) == "No details"
    assert plain(summary_of("plain words")) == "plain words"


def test_triggers_read_as_sentences():
    assert plain(TEXT.trigger("purchase", {"order_total": 84, "currency": "GBP", "order_id": "1042",
                                           "event": {"name": "Jazz Night"}})) == \
        "Purchase of Jazz Night (84 GBP, order 1042)"
    assert plain(TEXT.trigger("event_day", {"event": {"id": "e1", "name": "Jazz Night"}})) == "The day of Jazz Night"
    assert plain(TEXT.trigger("segment_entered", {"segment_id": 4})) == "Entering segment VIPs"
    assert plain(TEXT.trigger("custom", {})) == "Enrolled by hand"
    assert plain(TEXT.trigger("signup", {"source": "api"})) == "Signed up through the API"
    assert plain(TEXT.trigger("cart_abandoned", {"cart_total": 12})) == "Cart abandoned trigger: Cart total: 12"


# --- hostile and arbitrary properties ------------------------------------------------------------

# Text that could not itself look like a repr (no brackets or quotes).
SAFE_TEXT = st.text(st.characters(blacklist_characters="{}[]'\"\\", blacklist_categories=("Cs",)), max_size=30)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats(allow_nan=False, allow_infinity=False)
    | SAFE_TEXT,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(SAFE_TEXT, inner, max_size=6), max_leaves=12)
TYPES = st.sampled_from([*SENTENCES, "custom_type", "workflow_step"])
REPR = re.compile(r"[{}\[\]']")


def rendered(app, parts) -> str:
    return app.jinja_env.get_template("_readable.html").module.parts(parts)


def visible(html: str) -> str:
    return re.sub(r"<[^>]*>", "", html)


@settings(max_examples=150, deadline=None)
@given(activity_type=TYPES, properties=st.dictionaries(SAFE_TEXT, JSON_VALUES, max_size=8))
def test_any_json_properties_read_without_reprs(app, activity_type, properties):
    activity = SimpleNamespace(type=activity_type, properties=properties)
    with app.test_request_context():
        html = rendered(app, TEXT.summary(activity))
        details = [rendered(app, value) for _, value in TEXT.details(activity)]
    for text in [visible(html), *map(visible, details), *(name for name, _ in TEXT.details(activity))]:
        assert not REPR.search(text), text


@settings(max_examples=150, deadline=None)
@given(activity_type=TYPES, properties=st.dictionaries(
    st.sampled_from(["gate", "event", "url", "text", "tag", "source", "title", "x"]),
    st.text(alphabet="<>&\"' scriptabc/=", max_size=40) | st.fixed_dictionaries({"name": st.text("<>&s", max_size=9)}),
    max_size=5))
def test_markup_in_properties_is_escaped(app, activity_type, properties):
    activity = SimpleNamespace(type=activity_type, properties=properties)
    with app.test_request_context():
        html = rendered(app, TEXT.summary(activity)) + "".join(
            rendered(app, value) for _, value in TEXT.details(activity))
    without_ours = re.sub(r'</?(a|span|time)( (href|class|datetime|title)="[^"<>]*")*>', "", html)
    assert "<" not in without_ours and ">" not in without_ours


# --- names come from the tenant's own rows only --------------------------------------------------

def test_names_are_looked_up_in_the_tenant_only(tenant_a, tenant_b):
    from webapp.services import segments
    from webapp.services.campaigns import drafts

    vip = [{"type": "tag", "operator": "has", "value": "vip"}]
    ours = segments.create_segment(tenant_a.id, "Our VIPs", vip)
    theirs = segments.create_segment(tenant_b.id, "Their VIPs", vip)
    their_campaign = drafts.create_campaign(tenant_b.id, {"name": "Their news", "subject": "Hi",
                                                          "html_content": "<p>Hi</p>", "segment_id": theirs.id})
    ada, _ = upsert_customer(tenant_a.id, {"email": "ada@example.com"})
    bob, _ = upsert_customer(tenant_b.id, {"email": "bob@example.com"})
    record_activity(tenant_a.id, "purchase", customer_id=ada.id,
                    properties={"order_total": 5, "event": {"id": "evt_1", "name": "Our gig"}})
    record_activity(tenant_b.id, "purchase", customer_id=bob.id,
                    properties={"order_total": 5, "event": {"id": "evt_2", "name": "Their gig"}})
    names = lookup_names(tenant_a.id, [{"segment_id": ours.id}, {"segment_id": theirs.id},
                                       {"campaign_id": their_campaign.id}, {"campaign_id": True}, "junk",
                                       {"event_id": "evt_1"}, {"event": {"id": "evt_2"}}])
    assert names.segments == {ours.id: "Our VIPs"}
    assert names.campaigns == {}
    assert names.events == {"evt_1": "Our gig"}


def test_a_page_of_activities_reads_its_names_in_one_query_per_kind(tenant_a, app):
    from tests.sql_support import sql_sent

    rows = [SimpleNamespace(type="email_sent", properties={"campaign_id": n}) for n in range(1, 30)] + \
        [SimpleNamespace(type="segment_entered", properties={"segment_id": n}) for n in range(1, 30)]
    with sql_sent() as statements:
        for_activities(tenant_a.id, rows)
    assert len(statements) == 2


def test_relay_bounces_and_complaints_say_who_reported_them_and_why():
    assert plain(summary("email_bounced", {"campaign_id": 7, "bounce": "hard", "provider": "SendGrid",
                                           "reason": "550 5.1.1 user unknown"})) == \
        "Could not deliver Jazz weekly: the address bounced (SendGrid: 550 5.1.1 user unknown)"
    assert plain(summary("email_bounced", {"campaign_id": 7, "bounce": "soft", "provider": "Mailgun",
                                           "reason": "3 soft bounces within 30 days"})) == \
        "Could not deliver Jazz weekly: the address kept bouncing (Mailgun: 3 soft bounces within 30 days)"
    assert plain(summary("email_soft_bounced", {"campaign_id": 8, "provider": "Postmark",
                                                "reason": "Mailbox full"})) == \
        "Temporary bounce of an email from workflow Post-purchase (Postmark: Mailbox full)"
    assert plain(summary("email_complained", {"provider": "Amazon SES", "reason": "abuse"})) == \
        "Marked an email as spam (Amazon SES: abuse)"
    assert ACTIVITY_LABELS["email_soft_bounced"] == "Soft bounce"
    assert plain(summary("email_complained", {"campaign_id": 7, "provider": "SendGrid",
                                              "reason": "reported as spam"})) == "Marked Jazz weekly as spam (SendGrid)"
