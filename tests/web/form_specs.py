"""Every form of the marketer pages as data, for the hostile-input tests: where it posts,
valid values for its fields, what kind of value each field takes, and where the page shows
a field's message. A new form goes here; test_every_form_route_has_a_spec fails until it does."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from urllib.parse import quote_plus

from sqlalchemy import select

from webapp.extensions import db

from .conftest import BRAND_FORM, HX, IMPORT_CSV, SIGNUP_FORM, STEP_DESIGN, VIP_CONDITIONS
from .pages import field_errors

# Field kinds: what a hostile value for the field looks like (see the strategies in the tests).
TEXT, JSON, NUMBER, DATE, CHOICE, FILE = "text", "json", "number", "date", "choice", "file"
# Where a refused field's message is shown.
BESIDE = "beside"          # a .field box holding the control (the _macros.html field, step editors)
DEFINITION = "definition"  # the segment builder's #definition-error, naming the field in data-error-field
PREVIEW = "preview"        # a live preview pane: data-error-field on the error
MAPPING = "mapping"        # the import mapping: the column's own .field-error


@dataclass(frozen=True)
class FormSpec:
    name: str                       # a test id
    endpoint: str
    url: Callable[[dict], str]      # from the hostile world's ids
    data: dict                      # valid values; a callable is called for a fresh value (files)
    fields: dict[str, str]          # field name -> kind; the fields a hostile value goes into
    htmx: bool = False              # posted as the page's htmx does (the token in a header)
    shown: str = BESIDE
    refused_with: int = 422
    signed_in: bool = True
    # Fields looked up, never stored: a value nothing can match is answered as unknown, not refused.
    lookups: frozenset[str] = field(default_factory=frozenset)
    shown_elsewhere: dict[str, str] = field(default_factory=dict)  # fields whose message is not `shown`

    def __str__(self) -> str:
        return self.name

    def form_data(self) -> dict:
        return {key: value() if callable(value) else value for key, value in self.data.items()}


def message_for(spec: FormSpec, html: str, name: str) -> str:
    """The messages the page shows for field `name`, joined ("" when none)."""
    shown = spec.shown_elsewhere.get(name, spec.shown)
    if shown == BESIDE:
        return " ".join(field_errors(html).get(name, []))
    if shown in (DEFINITION, PREVIEW):
        found = []
        for match in re.finditer(r'<div[^>]*data-error-field="([^"]*)"[^>]*>([\s\S]*?)</div>', html):
            where = unescape(match.group(1))
            if where == name or where.startswith((name + "[", name + ".")):
                found.append(unescape(match.group(0)))
        return " ".join(found)
    if shown == MAPPING:
        return " ".join(unescape(m) for m in re.findall(r'class="field-error"[^>]*>([^<]*)<', html))
    raise AssertionError(shown)


EDITOR = {"name": TEXT, "subject": TEXT, "preheader": TEXT, "from_name": TEXT, "from_email": TEXT,
          "reply_to": TEXT, "html_content": TEXT, "text_content": TEXT, "utm_source": TEXT, "utm_medium": TEXT,
          "utm_campaign": TEXT, "segment_id": CHOICE}
CAMPAIGN = {"name": "Autumn", "subject": "Hi", "html_content": "<p>Hi</p>"}
SEGMENT = {"name": "Big spenders", "match": "all", "conditions": json.dumps(VIP_CONDITIONS)}
MAPPING_DATA = {"map-0": "email", "map-1": "first_name", "map-2": "attribute"}
MAPPING_FIELDS = {"map-0": CHOICE, "map-1": CHOICE, "map-2": CHOICE}


def _png() -> bytes:
    from tests.assets.images import png

    return png()


def _step(kind: str) -> Callable[[dict], str]:
    return lambda w: f"/workflows/{w['workflow_id']}/steps/{w['steps'][kind]}"


def _email(suffix: str = "", kind: str = "send_email") -> Callable[[dict], str]:
    """The email step's page (of the workflow every step type is added to)."""
    return lambda w: f"/workflows/{w['workflow_id']}/steps/{w['steps'][kind]}/email{suffix}"


STEP_EMAIL = {"subject": TEXT, "preheader": TEXT, "from_name": TEXT, "from_email": TEXT, "reply_to": TEXT}


def _flow(trigger: str) -> Callable[[dict], str]:
    return lambda w: f"/workflows/{w['workflows'][trigger]}/settings"


SIGNUP_FORM_FIELDS = {"name": TEXT, "first_name": CHOICE, "last_name": CHOICE, "consent_text": TEXT,
                      "confirmation_subject": TEXT, "confirmation_body": TEXT, "success_message": TEXT,
                      "status": CHOICE, "custom-0-label": TEXT, "custom-0-key": TEXT, "custom-0-kind": CHOICE,
                      "custom-0-options": TEXT}

SPECS: tuple[FormSpec, ...] = (
    FormSpec("login", "auth.login", lambda w: "/login", {"email": "owner@alpha.example.com", "password": "wrong"},
             {"email": TEXT, "password": TEXT}, refused_with=401, signed_in=False),
    FormSpec("organisation settings", "settings.update_tenant", lambda w: "/settings/tenant",
             {"name": "Arena", "timezone": "Europe/Paris", "currency": "EUR", "locale": "fr_FR"},
             {"name": TEXT, "timezone": TEXT, "currency": CHOICE, "locale": CHOICE, "sender_name": TEXT,
              "sender_email": TEXT, "postal_address": TEXT,
              "attribution_days": NUMBER, "send_rate_per_second": NUMBER, "webhook_allowlist": TEXT,
              "frequency_cap_emails": NUMBER, "frequency_cap_days": NUMBER, "quiet_hours_start": TEXT,
              "quiet_hours_end": TEXT}),
    FormSpec("new API token", "settings.create_token", lambda w: "/settings/tokens", {"name": "Box office",
             "role": "admin"}, {"name": TEXT, "role": CHOICE}),
    FormSpec("sending domain", "settings.add_sending_domain", lambda w: "/settings/sending-domains",
             {"domain": "tickets.alpha.example.com"}, {"domain": TEXT}),
    FormSpec("new webhook endpoint", "webhook_endpoints.create", lambda w: "/settings/webhooks",
             {"url": "https://hooks.alpha.example.com/crm", "event_types": ["email.sent"]},
             {"url": TEXT, "description": TEXT, "event_types": CHOICE}),
    FormSpec("webhook endpoint", "webhook_endpoints.update", lambda w: f"/settings/webhooks/{w['endpoint_id']}",
             {"url": "https://hooks.alpha.example.com/v2", "event_types": ["email.sent"]},
             {"url": TEXT, "description": TEXT, "event_types": CHOICE}),
    FormSpec("SES webhook", "deliverability.save_provider", lambda w: "/settings/deliverability/webhooks",
             {"provider": "ses", "ses_topic_arns": "arn:aws:sns:eu-west-1:123456789012:bounces"},
             {"ses_topic_arns": TEXT}),
    FormSpec("Postmark webhook", "deliverability.save_provider", lambda w: "/settings/deliverability/webhooks",
             {"provider": "postmark", "postmark_username": "hook", "postmark_password": "a-long-postmark-password"},
             {"postmark_username": TEXT, "postmark_password": TEXT}),
    FormSpec("Mailgun webhook", "deliverability.save_provider", lambda w: "/settings/deliverability/webhooks",
             {"provider": "mailgun", "mailgun_signing_key": "key-3ax6xnjp29jd6fds4gc373sgvjx"},
             {"mailgun_signing_key": TEXT}),
    FormSpec("DKIM key", "deliverability.create_dkim_key",
             lambda w: f"/settings/deliverability/domains/{w['domain_id']}/dkim", {"selector": "crm1"},
             {"selector": TEXT}),
    FormSpec("password", "settings.change_password", lambda w: "/settings/password",
             {"current_password": "correct-horse-battery", "new_password": "a-brand-new-password"},
             {"current_password": TEXT, "new_password": TEXT}),
    FormSpec("customer", "customers.edit", lambda w: f"/customers/{w['customer_id']}/edit",
             {"email": "ada@example.com", "first_name": "Ada", "email_status": "subscribed"},
             {"email": TEXT, "first_name": TEXT, "last_name": TEXT, "external_id": TEXT, "timezone": TEXT,
              "email_status": CHOICE}),
    FormSpec("note", "customers.add_note", lambda w: f"/customers/{w['customer_id']}/notes", {"text": "Called"},
             {"text": TEXT}, htmx=True),
    FormSpec("add tag", "customers.add_tag", lambda w: f"/customers/{w['customer_id']}/tags", {"tag": "early"},
             {"tag": TEXT}, htmx=True),
    FormSpec("remove tag", "customers.remove_tag", lambda w: f"/customers/{w['customer_id']}/tags/remove",
             {"tag": "vip"}, {"tag": TEXT}, htmx=True),
    FormSpec("import upload", "imports.new", lambda w: "/customers/import",
             {"file": lambda: (io.BytesIO(IMPORT_CSV), "fans.csv")}, {"file": FILE}),
    FormSpec("import preview", "imports.preview", lambda w: f"/customers/imports/{w['import_id']}/preview",
             MAPPING_DATA, MAPPING_FIELDS, htmx=True, shown=MAPPING, refused_with=200),
    FormSpec("import start", "imports.start", lambda w: f"/customers/imports/{w['import_id']}/start",
             MAPPING_DATA, MAPPING_FIELDS, shown=MAPPING),
    FormSpec("new segment", "segments.new", lambda w: "/segments/new", SEGMENT,
             {"name": TEXT, "match": CHOICE, "conditions": JSON}, shown_elsewhere={"conditions": DEFINITION}),
    FormSpec("segment", "segments.edit", lambda w: f"/segments/{w['segment_id']}/edit", SEGMENT,
             {"name": TEXT, "match": CHOICE, "conditions": JSON}, shown_elsewhere={"conditions": DEFINITION}),
    FormSpec("segment preview", "segments.preview", lambda w: "/segments/preview", SEGMENT,
             {"match": CHOICE, "conditions": JSON}, htmx=True, shown=PREVIEW),
    FormSpec("new campaign", "campaigns.new", lambda w: "/campaigns/new", CAMPAIGN, EDITOR),
    FormSpec("campaign", "campaigns.edit", lambda w: f"/campaigns/{w['campaign_id']}/edit", CAMPAIGN, EDITOR),
    FormSpec("campaign A/B test", "ab_tests.edit", lambda w: f"/campaigns/{w['campaign_id']}/ab-test",
             {"share_percent": "20", "duration_minutes": "240", "metric": "opens", "variants-0-subject": "A",
              "variants-1-subject": "B", "variants-1-html_content": "<p>B</p>", "action": "save"},
             {"share_percent": NUMBER, "duration_minutes": CHOICE, "metric": CHOICE, "variants-0-subject": TEXT,
              "variants-1-subject": TEXT, "variants-1-preheader": TEXT, "variants-1-from_name": TEXT,
              "variants-1-html_content": TEXT}),
    FormSpec("campaign preview", "campaigns.preview", lambda w: "/campaigns/preview",
             {**CAMPAIGN, "preview_as": "ada@example.com"},
             {name: kind for name, kind in EDITOR.items() if name not in ("name", "segment_id")} | {"preview_as": TEXT},
             htmx=True, shown=PREVIEW, lookups=frozenset({"preview_as"})),
    FormSpec("test send", "campaigns.send_test", lambda w: f"/campaigns/{w['campaign_id']}/test",
             {"emails": "me@example.com", "preview_as": "ada@example.com"}, {"emails": TEXT, "preview_as": TEXT},
             htmx=True, lookups=frozenset({"preview_as"})),
    FormSpec("schedule", "campaigns.schedule", lambda w: f"/campaigns/{w['campaign_id']}/schedule",
             {"send_at": "2099-01-01T09:00"}, {"send_at": DATE, "per_customer_timezone": TEXT}),
    FormSpec("new workflow", "workflows.new", lambda w: "/workflows/new", {"name": "After", "trigger_type": "custom"},
             {"name": TEXT, "trigger_type": CHOICE}),
    FormSpec("trigger (custom)", "workflows.update_settings", _flow("custom"),
             {"name": "Flow", "trigger_type": "custom", "reentry": "once"},
             {"name": TEXT, "trigger_type": CHOICE, "reentry": CHOICE}),
    FormSpec("trigger (purchase)", "workflows.update_settings", _flow("purchase"),
             {"name": "Flow", "trigger_type": "purchase", "min_order_total": "10", "event_id": "ev-1"},
             {"name": TEXT, "min_order_total": NUMBER, "event_id": TEXT, "event_name": TEXT}),
    FormSpec("trigger (event day)", "workflows.update_settings", _flow("event_day"),
             {"name": "Flow", "trigger_type": "event_day", "offset_days": "-1", "hour": "9"},
             {"offset_days": NUMBER, "hour": NUMBER}),
    FormSpec("trigger (segment)", "workflows.update_settings", _flow("segment_entered"),
             {"name": "Flow", "trigger_type": "segment_entered"}, {"segment_id": NUMBER}),
    FormSpec("trigger (topic)", "workflows.update_settings", _flow("topic_unsubscribed"),
             {"name": "Flow", "trigger_type": "topic_unsubscribed"}, {"topic_id": NUMBER}),
    FormSpec("new topic", "topics.create", lambda w: "/topics",
             {"name": "Festival news", "description": "Line-ups first", "default_subscribed": "no"},
             {"name": TEXT, "description": TEXT, "default_subscribed": CHOICE}),
    FormSpec("topic", "topics.edit", lambda w: f"/topics/{w['topic_id']}/edit",
             {"name": "Jazz", "description": "", "default_subscribed": "yes"},
             {"name": TEXT, "description": TEXT, "default_subscribed": CHOICE}),
    FormSpec("step: send email", "step_email.edit", _email(),
             {"subject": "Hi", "design": json.dumps(STEP_DESIGN)},
             {**STEP_EMAIL, "transactional": TEXT, "attach_calendar": TEXT, "design": JSON}),
    FormSpec("step: send email (HTML)", "step_email.edit", _email(kind="send_email_html"),
             {"subject": "Hi", "content": "<p>Hi</p>"}, {"subject": TEXT, "content": TEXT}),
    FormSpec("step: send email preview", "step_email.preview", _email("/preview"),
             {"subject": "Hi", "design": json.dumps(STEP_DESIGN), "preview_as": "ada@example.com"},
             {**STEP_EMAIL, "preview_as": TEXT}, htmx=True, shown=PREVIEW, lookups=frozenset({"preview_as"})),
    FormSpec("step: send email test", "step_email.send_test", _email("/test"),
             {"emails": "me@example.com", "preview_as": "ada@example.com"}, {"emails": TEXT, "preview_as": TEXT},
             htmx=True, lookups=frozenset({"preview_as"})),
    FormSpec("step: wait", "workflows.edit_step", _step("wait"), {"amount": "2", "unit": "days"},
             {"amount": NUMBER, "unit": CHOICE}, htmx=True),
    FormSpec("step: wait until", "workflows.edit_step", _step("wait_until"), {"before_event_hours": "24"},
             {"before_event_hours": NUMBER, "at": DATE}, htmx=True),
    FormSpec("workflow goal", "workflow_goals.save_goal", lambda w: f"/workflows/{w['workflow_id']}/goal",
             {"goal_on": "yes", "goal_match": "all", "within_days": "30",
              "goal_conditions": json.dumps(VIP_CONDITIONS)},
             {"goal_conditions": JSON, "goal_match": CHOICE, "within_days": NUMBER}, htmx=True),
    FormSpec("workflow exits", "workflow_goals.save_exit", lambda w: f"/workflows/{w['workflow_id']}/exit",
             {"exit_on": "yes", "exit_match": "all", "exit_conditions": json.dumps(VIP_CONDITIONS)},
             {"exit_conditions": JSON, "exit_match": CHOICE}, htmx=True),
    FormSpec("step: condition", "workflows.edit_step", _step("condition"),
             {"conditions": json.dumps(VIP_CONDITIONS), "match": "all"},
             {"conditions": JSON, "match": CHOICE, "else_step": NUMBER}, htmx=True),
    FormSpec("step: add tag", "workflows.edit_step", _step("add_tag"), {"tag": "welcomed"}, {"tag": TEXT},
             htmx=True),
    FormSpec("step: remove tag", "workflows.edit_step", _step("remove_tag"), {"tag": "welcomed"}, {"tag": TEXT},
             htmx=True),
    FormSpec("step: set attribute", "workflows.edit_step", _step("update_attribute"), {"key": "seat", "value": "A1"},
             {"key": TEXT, "value": TEXT}, htmx=True),
    FormSpec("step: webhook", "workflows.edit_step", _step("webhook"), {"url": "https://hooks.example.com/x"},
             {"url": TEXT}, htmx=True),
    # Only the file: the test client cannot put the lone surrogates of the text classes in a
    # multipart body (tests/web/test_asset_pages.py sends NUL and huge alt text itself).
    FormSpec("image upload", "assets.upload", lambda w: "/assets",
             {"file": lambda: (io.BytesIO(_png()), "stage.png"), "alt": "The stage"}, {"file": FILE}),
    FormSpec("enroll", "workflows.enroll", lambda w: f"/workflows/{w['workflow_id']}/enroll",
             {"email": "ada@example.com"}, {"email": TEXT}),
    FormSpec("rename template", "email_templates.rename", lambda w: f"/templates/{w['template_id']}/rename",
             {"name": "Renamed"}, {"name": TEXT}),
    FormSpec("save as template", "email_templates.save_campaign",
             lambda w: f"/templates/from-campaign/{w['campaign_id']}", {"name": "Layout"}, {"name": TEXT}),
    FormSpec("brand kit", "settings.update_brand", lambda w: "/settings/brand", BRAND_FORM,
             {"logo_asset_id": CHOICE, "primary_color": TEXT, "button_text_color": TEXT, "link_color": TEXT,
              "text_color": TEXT, "background_color": TEXT, "content_background": TEXT, "font_family": CHOICE,
              "button_radius": NUMBER, "footer_text": TEXT}),
    FormSpec("invite", "team.invite", lambda w: "/settings/team/invites",
             {"email": "newcomer@example.com", "role": "marketer"}, {"email": TEXT, "role": CHOICE}),
    FormSpec("member role", "team.change_role", lambda w: f"/settings/team/members/{w['user_id']}/role",
             {"role": "admin"}, {"role": CHOICE}),
    FormSpec("accept invitation", "team.accept", lambda w: f"/invite/{_unused(w, 'invite_tokens')}",
             {"name": "Grace Hopper", "password": "a-long-new-password"}, {"name": TEXT, "password": TEXT},
             signed_in=False),
    FormSpec("forgot password", "password.forgot", lambda w: "/password/forgot", {"email": "crew@alpha.example.com"},
             {"email": TEXT}, signed_in=False),
    FormSpec("new signup form", "signup_forms.new", lambda w: "/forms/new", SIGNUP_FORM, SIGNUP_FORM_FIELDS),
    FormSpec("signup form", "signup_forms.edit", lambda w: f"/forms/{w['form_id']}", SIGNUP_FORM, SIGNUP_FORM_FIELDS),
    FormSpec("reset password", "password.reset", lambda w: f"/password/reset/{_unused(w, 'reset_tokens')}",
             {"new_password": "a-long-new-password"}, {"new_password": TEXT}, signed_in=False),
)

# Routes whose body carries no field a page fills in (buttons): hostile fields sent to them
# must change nothing they would not change anyway, and never cause a 5xx.
BUTTONS: dict[str, Callable[[dict], str]] = {
    "auth.logout": lambda w: "/logout",
    "customers.delete": lambda w: f"/customers/{w['customer_id']}/delete",
    "settings.revoke_token": lambda w: f"/settings/tokens/{w['token_id']}/revoke",
    "settings.verify_sending_domain": lambda w: f"/settings/sending-domains/{w['domain_id']}/verify",
    "settings.remove_sending_domain": lambda w: f"/settings/sending-domains/{w['domain_id']}/remove",
    "deliverability.new_key": lambda w: "/settings/deliverability/new-key",
    "segments.recalculate": lambda w: f"/segments/{w['segment_id']}/recalculate",
    "segments.delete": lambda w: f"/segments/{w['segment_id']}/delete",
    # The builder's per-condition counts: JSON out, a refused definition is a 422 naming the item.
    "segments.condition_counts": lambda w: "/segments/preview/conditions",
    "campaigns.send": lambda w: f"/campaigns/{w['campaign_id']}/send",
    "campaigns.cancel": lambda w: f"/campaigns/{w['scheduled_campaign_id']}/cancel",
    "campaigns.delete": lambda w: f"/campaigns/{w['campaign_id']}/delete",
    "campaigns.convert_to_html": lambda w: f"/campaigns/{w['design_campaign_id']}/convert-html",
    "campaigns.duplicate": lambda w: f"/campaigns/{w['campaign_id']}/duplicate",
    "reports.choose_winner": lambda w: f"/campaigns/{w['campaign_id']}/winner",
    "workflows.toggle": lambda w: f"/workflows/{w['workflow_id']}/toggle",
    "workflows.add_step": lambda w: f"/workflows/{w['workflow_id']}/steps",
    "workflows.reorder": lambda w: f"/workflows/{w['workflow_id']}/steps/order",
    "workflows.delete_step": lambda w: f"/workflows/{w['workflow_id']}/steps/{w['step_id']}/delete",
    "step_email.convert_to_html": _email("/convert-html"),
    "workflows.delete": lambda w: f"/workflows/{w['workflow_id']}/delete",
    "assets.delete": lambda w: f"/assets/{w['asset_id']}/delete",
    "email_templates.use": lambda w: f"/templates/{w['template_id']}/use",
    "email_templates.use_starter": lambda w: "/templates/use-starter",
    "email_templates.delete": lambda w: f"/templates/{w['template_id']}/delete",
    "email_templates.delete_block": lambda w: f"/templates/blocks/{w['block_id']}/delete",
    # The builder's JSON endpoint; posted as a form (name, block as JSON text) it answers alike.
    "email_templates.save_block": lambda w: "/templates/blocks",
    "team.resend_invite": lambda w: f"/settings/team/invites/{w['invite_id']}/resend",
    "team.revoke_invite": lambda w: f"/settings/team/invites/{w['invite_id']}/revoke",
    "team.remove_member": lambda w: f"/settings/team/members/{w['user_id']}/remove",
    "topics.move": lambda w: f"/topics/{w['topic_id']}/move",
    "topics.delete": lambda w: f"/topics/{w['topic_id']}/delete",
    "customers.set_topics": lambda w: f"/customers/{w['customer_id']}/topics",
    # The preference centre (a recipient's token, no session): hostile topic ids and actions.
    "unsubscribe.save": lambda w: f"/u/{w['recipient_token']}/preferences",
    "signup_forms.delete": lambda w: f"/forms/{w['form_id']}/delete",
    # The confirmation email's live preview: shows what is typed, saves nothing.
    "signup_forms.preview_email": lambda w: "/forms/preview-email",
    # The public pages (no token from a GET here: refused without storing; tests/signup_forms
    # posts them as people do).
    "hosted_forms.submit": lambda w: f"/f/{w['form_public_id']}",
    "hosted_forms.confirm": lambda w: "/f/confirm/not-a-link",
    # Waitlists' public pages likewise (tests/events/test_waitlist_pages.py posts them as people do).
    "waitlist_pages.join": lambda w: "/w/not-a-waitlist",
    "waitlist_pages.claim": lambda w: "/w/offer/not-a-link",
    "webhook_endpoints.set_enabled": lambda w: f"/settings/webhooks/{w['endpoint_id']}/enabled",
    "webhook_endpoints.delete": lambda w: f"/settings/webhooks/{w['endpoint_id']}/delete",
    "webhook_endpoints.reveal": lambda w: f"/settings/webhooks/{w['endpoint_id']}/reveal",
    "webhook_endpoints.resend": lambda w: f"/settings/webhooks/{w['endpoint_id']}/deliveries/{w['delivery_id']}/resend",
}
# What the buttons read from the body, if anything.
BUTTON_FIELDS = {"segments.recalculate": ["back"], "webhook_endpoints.set_enabled": ["enabled"],
                 "segments.condition_counts": ["conditions", "match"],
                 "workflows.add_step": ["type"], "workflows.reorder": ["step_ids"],
                 "workflows.delete": ["force"], "email_templates.use_starter": ["starter"],
                 "email_templates.save_block": ["name", "block"], "topics.move": ["direction"],
                 "customers.set_topics": ["topics"], "unsubscribe.save": ["topics", "action"],
                 "signup_forms.preview_email": ["confirmation_subject", "confirmation_body"],
                 "hosted_forms.submit": ["email", "first_name", "form_token", "website", "topic"],
                 "waitlist_pages.join": ["email", "quantity", "form_token", "website"]}


def hostile_world(tenant_id: int, world: dict) -> dict:
    """world_a plus a step of every type in its workflow and a workflow for each trigger that
    has settings of its own. Built once a process and then written back from its rows, as
    world_a is (tests/world_cache.py): building it was most of each sweep test's set-up."""
    from tests.world_cache import cached_world

    return cached_world("hostile_world", lambda: _build_hostile_world(tenant_id, world))


def _build_hostile_world(tenant_id: int, world: dict) -> dict:
    from webapp.models.workflow import STEP_TYPES
    from webapp.services import workflows

    steps = {step.type: step.id for step in workflows.steps_of(world["workflow_id"])}
    for kind in STEP_TYPES:
        if kind not in steps:
            steps[kind] = workflows.add_step(tenant_id, world["workflow_id"], kind).id
    # An email written in HTML (a new one starts as blocks).
    steps["send_email_html"] = workflows.add_step(tenant_id, world["workflow_id"], "send_email",
                                                  {"subject": "Hi", "content": "<p>Hi</p>"}).id
    flows = {"custom": world["workflow_id"]}
    for trigger, config in (("purchase", {}), ("event_day", {}), ("segment_entered",
                                                                  {"segment_id": world["segment_id"]}),
                            ("topic_unsubscribed", {"topic_id": world["topic_id"]})):
        flows[trigger] = workflows.create_workflow(tenant_id, {"name": f"On {trigger}", "trigger_type": trigger,
                                                               "trigger_config": config}).id
    # A message the customer got, whose unsubscribe link opens the preference centre.
    from webapp.models import CampaignRecipient

    db.session.add(CampaignRecipient(campaign_id=world["scheduled_campaign_id"], tenant_id=tenant_id,
                                     customer_id=world["customer_id"], email="ada@example.com", status="sent",
                                     token="5f0c8e2a9b7d41c6a3e2f19d8b6c4a71"))
    db.session.commit()
    return {**world, "steps": steps, "workflows": flows, "recipient_token": "5f0c8e2a9b7d41c6a3e2f19d8b6c4a71",
            **_one_use_links(tenant_id, world)}


# An example that a hostile run accepts spends its invitation or reset link; the next example
# takes a fresh one, so a refusal is still a refusal and not "this link was already used".
SPARE_LINKS = 15


def _one_use_links(tenant_id: int, world: dict) -> dict:
    """Spare links, written straight to the database in one transaction (the pages' own
    flow is tested in test_team.py and test_password_reset.py)."""
    import secrets
    from datetime import timedelta

    from webapp.infra.types import utcnow
    from webapp.models import PasswordReset, TeamInvite, User
    from webapp.services.tenants import hash_token

    now, invites, resets = utcnow(), [world["invite_token"]], [world["reset_token"]]
    crew_hash = db.session.scalar(select(User.password_hash).where(User.id == world["user_id"]))
    for i in range(SPARE_LINKS):
        invites.append(secrets.token_urlsafe(32))
        db.session.add(TeamInvite(tenant_id=tenant_id, email=f"invitee-{i}@example.com", role="viewer",
                                  token_hash=hash_token(invites[-1]), invited_by_label="Owner",
                                  expires_at=now + timedelta(days=7)))
        # One person each: using a reset link spends every open link of its person.
        member = User(tenant_id=tenant_id, email=f"crew-{i}@alpha.example.com", role="viewer",
                      password_hash=crew_hash)
        db.session.add(member)
        db.session.flush()
        resets.append(secrets.token_urlsafe(32))
        db.session.add(PasswordReset(user_id=member.id, token_hash=hash_token(resets[-1]),
                                     expires_at=now + timedelta(hours=1)))
    db.session.commit()
    return {"invite_tokens": invites, "reset_tokens": resets}


def _unused(world: dict, key: str) -> str:
    """The first of the world's links of this kind that still works (read only)."""
    from webapp.models import PasswordReset, TeamInvite
    from webapp.services.tenants import hash_token

    model, spent = (TeamInvite, TeamInvite.accepted_at) if key == "invite_tokens" else \
        (PasswordReset, PasswordReset.used_at)
    for secret in world[key]:
        if db.session.scalar(select(model.id).where(model.token_hash == hash_token(secret), spent.is_(None))):
            return secret
    return world[key][-1]


def encoded(data: dict) -> bytes:
    """A urlencoded body. Text is sent as UTF-8, lone surrogates too (as the bytes a client
    could send), which the test client's own encoding would refuse to build."""
    pairs = []
    for key, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append(f"{quote_plus(key)}={quote_plus(str(item).encode('utf-8', 'surrogatepass'))}")
    return "&".join(pairs).encode("ascii")


def submit(client, token: str, url: str, data: dict, *, htmx: bool = False):
    """Post `data` as the page would, with the session's CSRF token."""
    headers = {"X-CSRFToken": token, **HX} if htmx else {}
    if not htmx:
        data = {**data, "csrf_token": token}
    if any(isinstance(value, tuple) for value in data.values()):  # a file: multipart, as the upload form
        return client.post(url, data=data, headers=headers, content_type="multipart/form-data")
    return client.post(url, data=encoded(data), headers=headers, content_type="application/x-www-form-urlencoded")
