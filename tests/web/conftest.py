"""Fixtures for the marketer pages: isolated test clients, logged-in marketers of each
role, a small data set in tenant A, the web routes discovered from the URL map, and a
snapshot of every table to prove that a refused request changed nothing."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.db_state import database_state
from tests.world_cache import cached_world
from webapp.extensions import db

from .pages import csrf_from

HX = {"HX-Request": "true"}


@pytest.fixture
def new_client(app):
    """A factory of fresh browsers: each call returns a client with its own cookies."""

    def make():
        return app.test_client()  # an IsolatedClient (tests/conftest.py)

    return make


@pytest.fixture
def client(new_client):
    return new_client()


@dataclass
class Marketer:
    """A logged-in browser session of one user."""

    client: FlaskClient
    email: str

    def csrf(self, path: str = "/dashboard") -> str:
        return csrf_from(self.client.get(path).get_data(as_text=True))

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kwargs):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.csrf())
        return self.client.post(path, data=data, **kwargs)

    def hx_post(self, path: str, data: dict | None = None, **kwargs):
        """An HTMX request: the token travels in the X-CSRFToken header, not the form."""
        headers = {**HX, "X-CSRFToken": self.csrf(), **kwargs.pop("headers", {})}
        return self.client.post(path, data=data or {}, headers=headers, **kwargs)


def log_in(client, email: str, password: str):
    """Post the real login form; returns the response."""
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


@pytest.fixture
def login(new_client, password):
    """login(email) -> a Marketer whose client holds a logged-in session."""

    def _login(email: str) -> Marketer:
        client = new_client()
        response = log_in(client, email, password)
        assert response.status_code == 302, f"could not log in as {email}"
        return Marketer(client, email)

    return _login


@pytest.fixture
def add_user(password):
    """add_user(tenant_id, email, role) -> a user with the suite's password."""
    from webapp.models import Tenant
    from webapp.services.tenants import create_user

    def _add_user(tenant_id: int, email: str, role: str):
        return create_user(db.session.get(Tenant, tenant_id), email, password, role)

    return _add_user


@pytest.fixture
def owner_a(login, tenant_a) -> Marketer:
    return login(tenant_a.owner_email)


@pytest.fixture
def owner_b(login, tenant_b) -> Marketer:
    return login(tenant_b.owner_email)


@pytest.fixture
def viewer_a(login, add_user, tenant_a) -> Marketer:
    return login(add_user(tenant_a.id, "viewer@alpha.example.com", "viewer").email)


@pytest.fixture
def marketer_a(login, add_user, tenant_a) -> Marketer:
    return login(add_user(tenant_a.id, "marketer@alpha.example.com", "marketer").email)


def make_customer(tenant_id: int, email: str, **fields):
    from webapp.services.customers import upsert_customer

    customer, _ = upsert_customer(tenant_id, {"email": email, **fields})
    return customer


def add_purchase(tenant_id: int, customer_id: int, total: float, *, order_id: str, days_ago: float = 1,
                 event_name: str = "Summer Festival"):
    from webapp.infra.types import utcnow
    from webapp.services.activities import record_activity

    activity, _ = record_activity(
        tenant_id, "purchase", customer_id=customer_id,
        properties={"order_total": total, "order_id": order_id, "currency": "EUR",
                    "event": {"id": "ev-1", "name": event_name, "venue": "Main Hall"}},
        occurred_at=utcnow() - timedelta(days=days_ago))
    return activity


@pytest.fixture
def world_a(tenant_a):
    """Tenant A's data that the sweeps aim at: a customer with a tag, a note and a purchase,
    and the tenant's API token. Returns the value for each URL argument name. Built once a
    process, then written back from its rows (tests/world_cache.py)."""
    from webapp.models import EmailAsset
    from webapp.services.assets import _store

    files: dict[str, tuple[bytes, str]] = {}

    def build() -> dict:
        world = _build_world_a(tenant_a)
        for asset in db.session.scalars(select(EmailAsset)):
            with _store().open(asset.storage_key) as stored:
                files[asset.storage_key] = (stored.read(), asset.content_type)
        return world

    def files_back() -> None:
        # The image keeps its bytes in the asset store: a test that deleted it took them.
        store = _store()
        for key, (data, content_type) in files.items():
            stored = store.open(key)
            if stored is None:
                store.put(key, data, content_type)
            else:
                stored.close()

    return cached_world("world_a", build, after_restore=files_back)


def _build_world_a(tenant_a) -> dict:
    from webapp.models import ApiToken
    from webapp.services.activities import add_note
    from webapp.services.segments import create_segment

    customer = make_customer(tenant_a.id, "ada@example.com", first_name="Ada", last_name="Lovelace",
                             tags=["vip"])
    add_note(tenant_a.id, customer.id, "Prefers seated shows", author=tenant_a.owner_email)
    add_purchase(tenant_a.id, customer.id, 80, order_id="A-1")
    token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.tenant_id == tenant_a.id))
    segment = create_segment(tenant_a.id, "VIPs", VIP_CONDITIONS)
    return {"customer_id": customer.id, "token_id": token_id, "segment_id": segment.id,
            "import_id": _import_world(tenant_a.id), **_campaign_world(tenant_a.id, segment.id),
            **_workflow_world(tenant_a.id, customer.id), **_email_step_world(tenant_a.id),
            "domain_id": _domain_world(tenant_a.id),
            "asset_id": _asset_world(tenant_a.id), "topic_id": _topic_world(tenant_a.id),
            **_template_world(tenant_a.id), **_team_world(tenant_a.id),
            **_signup_form_world(tenant_a.id), "event_id": _event_world(tenant_a.id),
            **_webhook_world(tenant_a.id)}


def _webhook_world(tenant_id: int) -> dict:
    """A webhook endpoint and one failed delivery to it (what Resend takes)."""
    from webapp.models import WebhookDelivery
    from webapp.services import webhooks

    endpoint, _ = webhooks.create_endpoint(tenant_id, {"url": "https://hooks.alpha.example.com/in",
                                                       "event_types": ["email.sent"]})
    webhooks.emit(tenant_id, "email.sent", {"campaign": {"id": 1, "name": "Spring"}})
    db.session.execute(WebhookDelivery.__table__.update().values(status="failed", attempts=8,
                                                                 last_error="HTTP 500 Internal Server Error"))
    db.session.commit()
    delivery_id = db.session.scalar(select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint.id))
    return {"endpoint_id": endpoint.id, "delivery_id": delivery_id}


def _event_world(tenant_id: int) -> int:
    """The event Ada's purchase named (purchases create the events they name)."""
    from webapp.models import Event

    return db.session.scalar(select(Event.id).where(Event.tenant_id == tenant_id, Event.external_id == "ev-1"))


def _signup_form_world(tenant_id: int) -> dict:
    """A signup form (what the form builder's pages edit) and its hosted page's id."""
    from webapp.services.signup_forms import create_form

    form = create_form(tenant_id, {"name": "Newsletter"})
    return {"form_id": form.id, "form_public_id": form.public_id}


def _topic_world(tenant_id: int) -> int:
    """Two topics (so one can move), the first the database's first (id 1) in every test."""
    from webapp.services.topics import create_topic

    topic = create_topic(tenant_id, {"name": "Jazz listings"})
    create_topic(tenant_id, {"name": "Surveys", "default_subscribed": False})
    return topic.id


def _team_world(tenant_id: int) -> dict:
    """A second member (a marketer, whose role can change and who can be removed), a pending
    invitation, and the secrets of an invitation link and of a password reset link of the
    member, read from the outbox as the person would."""
    from webapp.models import User
    from webapp.services import password_reset, team
    from webapp.services.tenants import create_user

    owner = db.session.scalar(select(User).where(User.tenant_id == tenant_id, User.role == "owner"))
    member = create_user(owner.tenant, "crew@alpha.example.com", "crew-password-123", "marketer")
    invite = team.invite(tenant_id, owner, "invitee@example.com", "viewer")
    invite_token = link_secret("/invite/")
    password_reset.request_reset(member.email, "198.51.100.7")
    return {"user_id": member.id, "invite_id": invite.id, "invite_token": invite_token,
            "reset_token": link_secret("/password/reset/")}


def link_secret(prefix: str) -> str:
    """The secret of the newest link starting with `prefix` in the outbox (as the mail says it)."""
    import re

    from webapp.models import OutboxMessage
    from webapp.services.outbox import read_message

    for raw in db.session.scalars(select(OutboxMessage.raw).order_by(OutboxMessage.id.desc())):
        found = re.search(re.escape(prefix) + r"([A-Za-z0-9_\-]+)", read_message(raw).text or "")
        if found:
            return found.group(1)
    raise AssertionError(f"no {prefix} link in the outbox")


def _template_world(tenant_id: int) -> dict[str, int]:
    """A template and a saved block of the tenant's own."""
    from webapp.services import templates

    template = templates.create_template(tenant_id, {"name": "Spring layout", "content": "<p>Hi</p>"})
    block = templates.save_block(tenant_id, "Header", {"type": "heading", "text": "Arena Alpha"})
    return {"template_id": template.id, "block_id": block["id"]}


def _domain_world(tenant_id: int) -> int:
    """A sending domain nothing uses (so it can be verified and removed)."""
    from webapp.services.sending_domains import add_domain

    return add_domain(tenant_id, "news.alpha.example.com").id


def _asset_world(tenant_id: int) -> int:
    """An uploaded image."""
    from webapp.services.assets import upload_asset

    return upload_asset(tenant_id, "logo.png", png_image()).id


def png_image() -> bytes:
    from tests.assets.images import png

    return png()


def _import_world(tenant_id: int) -> int:
    """An uploaded CSV waiting for its mapping (what Preview and Start need)."""
    from webapp.services.imports import create_import

    return create_import(tenant_id, "fans.csv", IMPORT_CSV).id


IMPORT_CSV = b"email,first_name,seat\nada@example.com,Ada,A1\nnew@example.com,New,B2\n"


def _workflow_world(tenant_id: int, customer_id: int) -> dict[str, int]:
    """A live custom-trigger workflow (re-entry always, so every enrollment changes something)
    with two steps, and the customer enrolled in it."""
    from webapp.services import workflows

    workflow = workflows.create_workflow(tenant_id, {
        "name": "Welcome", "trigger_type": "custom", "reentry": "always",
        "steps": [{"type": "add_tag", "config": {"tag": "welcomed"}}, {"type": "wait", "config": {"days": 1}}]})
    workflows.set_active(tenant_id, workflow.id, True)
    result = workflows.enroll_customers(tenant_id, workflow.id, [customer_id])
    assert result["enrolled"] == [customer_id]
    from sqlalchemy import select as _select

    from webapp.models import AutomationEnrollment

    enrollment_id = db.session.scalar(_select(AutomationEnrollment.id).where(
        AutomationEnrollment.workflow_id == workflow.id))
    return {"workflow_id": workflow.id, "step_id": workflows.steps_of(workflow.id)[0].id,
            "enrollment_id": enrollment_id}


def _email_step_world(tenant_id: int) -> dict[str, int]:
    """A purchase workflow, switched off, whose one step sends an email built with blocks
    (what the email step's page edits)."""
    from webapp.services import workflows

    workflow = workflows.create_workflow(tenant_id, {
        "name": "Thank you", "trigger_type": "purchase",
        "steps": [{"type": "send_email", "config": {"subject": "Thanks", "design": STEP_DESIGN}}]})
    return {"email_workflow_id": workflow.id, "email_step_id": workflows.steps_of(workflow.id)[0].id}


def _campaign_world(tenant_id: int, segment_id: int) -> dict[str, int]:
    """A sendable draft to the segment, a scheduled campaign (what Cancel needs) and a
    message in the outbox; the tenant gets the sender and postal address sending requires."""
    from webapp.infra.types import utcnow
    from webapp.models import OutboxMessage, Tenant
    from webapp.services.campaigns import create_campaign, schedule_campaign
    from webapp.services.sending_domains import add_domain_of

    tenant = db.session.get(Tenant, tenant_id)
    tenant.postal_address, tenant.sender_email = "1 Arena Way, Berlin", "box@alpha.example.com"
    add_domain_of(tenant_id, tenant.sender_email)
    fields = {"subject": "Hello {{ customer.first_name }}", "html_content": "<p>Hi</p>", "segment_id": segment_id}
    draft = create_campaign(tenant_id, {"name": "Spring draft", **fields})
    scheduled = create_campaign(tenant_id, {"name": "Spring scheduled", **fields})
    schedule_campaign(tenant_id, scheduled.id, utcnow() + timedelta(days=7))
    # Built with the email builder: what "Convert to HTML" acts on.
    designed = create_campaign(tenant_id, {"name": "Spring blocks", "subject": "Hello", "segment_id": segment_id,
                                           "design": {"version": 1, "blocks": [{"type": "heading", "text": "Hi"}]}})
    message = OutboxMessage(tenant_id=tenant_id, campaign_id=scheduled.id, recipient="ada@example.com",
                            sender="box@alpha.example.com", subject="Hello", message_id="<m1@alpha.example.com>",
                            raw=b"Subject: Hello\r\n\r\nHi\r\n")
    db.session.add(message)
    db.session.commit()
    return {"campaign_id": draft.id, "scheduled_campaign_id": scheduled.id, "design_campaign_id": designed.id,
            "message_id": message.id}


# --- routes ---------------------------------------------------------------------------

VIP_CONDITIONS = [{"type": "tag", "operator": "has", "value": "vip"}]
# A workflow email step's design ("vip" is where the NUL sweep puts its NUL).
STEP_DESIGN = {"version": 1, "blocks": [{"type": "heading", "text": "vip"},
                                        {"type": "text", "html": "<p>Your order {{ trigger.order_id }}</p>"}]}
BRAND_FORM = {"logo_asset_id": "", "primary_color": "#aa0033", "button_text_color": "#ffffff",
              "link_color": "#aa0033", "text_color": "#1f2430", "background_color": "#f4f5f7",
              "content_background": "#ffffff", "font_family": "Helvetica, Arial, sans-serif", "button_radius": "8",
              "footer_text": "You bought tickets from us."}
SIGNUP_FORM = {"name": "Festival news", "first_name": "optional", "last_name": "off", "consent_text": "Yes please",
               "double_opt_in": "y", "confirmation_subject": "Confirm", "confirmation_body": "Press the button.",
               "success_message": "Thanks!", "status": "active", "custom-0-label": "Favourite genre"}
SUITE_PASSWORD = "<the password fixture>"  # filled in by form_data

# Valid form data for every state-changing page route: with the right token and role the
# request would change something, so a refusal proves the check and not bad input.
# A new POST route must be added here; test_every_state_changing_route_has_form_data fails
# until it is, so the CSRF, role and tenancy sweeps always cover it.
VALID_FORM_DATA = {
    "auth.login": {"email": "owner@alpha.example.com", "password": SUITE_PASSWORD},
    "auth.logout": {},
    "customers.add_note": {"text": "Asked about accessible seating"},
    "customers.add_tag": {"tag": "early-bird"},
    "customers.remove_tag": {"tag": "vip"},
    "customers.edit": {"email": "ada.changed@example.com", "first_name": "Changed",
                       "email_status": "unsubscribed"},
    "customers.delete": {},
    "settings.update_tenant": {"name": "Renamed Arena", "timezone": "Europe/Paris", "currency": "EUR",
                               "locale": "fr_FR"},
    "settings.create_token": {"name": "Box office", "role": "admin"},
    "settings.revoke_token": {},
    "settings.change_password": {"current_password": SUITE_PASSWORD, "new_password": "a-brand-new-password"},
    "settings.add_sending_domain": {"domain": "tickets.alpha.example.com"},
    "settings.verify_sending_domain": {},
    "settings.remove_sending_domain": {},
    "segments.new": {"name": "Big spenders", "match": "all", "conditions": json.dumps(VIP_CONDITIONS)},
    "segments.edit": {"name": "Renamed", "match": "any", "conditions": json.dumps(VIP_CONDITIONS)},
    "segments.preview": {"match": "all", "conditions": json.dumps(VIP_CONDITIONS)},
    "segments.condition_counts": {"match": "all", "conditions": json.dumps(VIP_CONDITIONS)},
    "segments.recalculate": {},
    "segments.delete": {},
    "campaigns.new": {"name": "Autumn", "subject": "Hi", "html_content": "<p>Hi</p>"},
    "campaigns.edit": {"name": "Renamed", "subject": "Hi again", "html_content": "<p>Hi</p>"},
    "campaigns.preview": {"subject": "Hi", "html_content": "<p>Hi</p>"},
    "campaigns.send_test": {"emails": "me@example.com"},
    "campaigns.schedule": {"send_at": "2099-01-01T09:00"},
    "campaigns.send": {},
    "campaigns.cancel": {},
    "campaigns.delete": {},
    "campaigns.convert_to_html": {},
    "campaigns.duplicate": {},
    "reports.choose_winner": {"variant": "B"},
    "ab_tests.edit": {"share_percent": "20", "duration_minutes": "240", "metric": "opens",
                      "variants-0-subject": "A", "variants-1-subject": "B", "action": "save"},
    # Files are made afresh for every request (a stream is read once).
    "imports.new": {"file": lambda: (io.BytesIO(IMPORT_CSV), "fans.csv")},
    "imports.preview": {"map-0": "email", "map-1": "first_name", "map-2": "attribute"},
    "imports.start": {"map-0": "email", "map-1": "first_name", "map-2": "attribute"},
    "workflows.new": {"name": "After purchase", "trigger_type": "purchase"},
    "workflows.update_settings": {"name": "Renamed flow", "trigger_type": "custom", "reentry": "once"},
    "workflows.toggle": {},
    "workflows.add_step": {"type": "wait"},
    "workflow_goals.save_goal": {"goal_on": "yes", "goal_match": "all", "within_days": "30",
                                 "goal_conditions": json.dumps(VIP_CONDITIONS)},
    "workflow_goals.save_exit": {"exit_on": "yes", "exit_match": "all", "exit_conditions": json.dumps(VIP_CONDITIONS)},
    # world_a's workflow has the database's first two steps (ids 1 and 2) in every test.
    "workflows.reorder": {"step_ids": ["2", "1"]},
    "workflows.edit_step": {"tag": "renamed"},
    "workflows.delete_step": {},
    "workflows.delete": {"force": "yes"},
    "workflows.enroll": {"email": "ada@example.com"},
    "assets.upload": {"file": lambda: (io.BytesIO(png_image()), "stage.png"), "alt": "The stage"},
    "assets.delete": {},
    "email_templates.use": {},
    "email_templates.use_starter": {"starter": "on-sale"},
    "email_templates.rename": {"name": "Renamed layout"},
    "email_templates.delete": {},
    "email_templates.save_campaign": {"name": "Spring draft layout"},
    "email_templates.save_block": {"name": "Footer", "block": json.dumps({"type": "footer", "text": "See you"})},
    "email_templates.delete_block": {},
    "settings.update_brand": BRAND_FORM,
    "step_email.edit": {"subject": "Thanks for order {{ trigger.order_id }}", "design": json.dumps(STEP_DESIGN)},
    "step_email.preview": {"subject": "Thanks", "design": json.dumps(STEP_DESIGN)},
    "step_email.send_test": {"emails": "me@example.com"},
    "step_email.convert_to_html": {},
    "team.invite": {"email": "newcomer@example.com", "role": "marketer"},
    "team.resend_invite": {},
    "team.revoke_invite": {},
    "team.change_role": {"role": "admin"},
    "team.remove_member": {},
    "password.forgot": {"email": "owner@alpha.example.com"},
    "topics.create": {"name": "Festival news", "description": "Line-ups first", "default_subscribed": "no"},
    "topics.edit": {"name": "Renamed topic", "description": "", "default_subscribed": "yes"},
    "topics.move": {"direction": "down"},
    "topics.delete": {},
    "customers.set_topics": {"topics": ["1"]},
    "deliverability.save_provider": {"provider": "mailgun", "mailgun_signing_key": "key-3ax6xnjp29jd6fds4gc373sgvjx"},
    "deliverability.new_key": {},
    "deliverability.create_dkim_key": {"selector": "crm1"},
    "signup_forms.new": SIGNUP_FORM,
    "signup_forms.edit": {**SIGNUP_FORM, "name": "Renamed form"},
    "signup_forms.preview_email": SIGNUP_FORM,
    "signup_forms.delete": {},
    "webhook_endpoints.create": {"url": "https://hooks.alpha.example.com/crm", "event_types": ["customer.created"]},
    "webhook_endpoints.update": {"url": "https://hooks.alpha.example.com/v2", "description": "Warehouse",
                                 "event_types": ["email.sent", "email.opened"]},
    "webhook_endpoints.set_enabled": {"enabled": "0"},
    "webhook_endpoints.delete": {},
    "webhook_endpoints.reveal": {},
    "webhook_endpoints.resend": {},
}
# State-changing routes that change nothing even when allowed (CSRF and roles still apply).
CHANGE_NOTHING = {"auth.login", "auth.logout", "segments.preview", "segments.condition_counts",
                  "campaigns.preview", "imports.preview",
                  "step_email.preview", "signup_forms.preview_email",
                  # world_a's campaign runs no A/B test: the pick is refused with a message (the
                  # winner's own tests, tests/web/test_ab_report.py, cover a pick that changes things).
                  "reports.choose_winner"}
# URL arguments a route takes from another world_a value: only a scheduled campaign can be cancelled,
# only a design converted to HTML.
ROUTE_ARGUMENTS = {("campaigns.cancel", "campaign_id"): "scheduled_campaign_id",
                   ("campaigns.convert_to_html", "campaign_id"): "design_campaign_id",
                   # The email step's page: world_a's email workflow and its step.
                   **{(f"step_email.{name}", argument): f"email_{argument}"
                      for name in ("edit", "preview", "send_test", "convert_to_html")
                      for argument in ("workflow_id", "step_id")}}

# Routes every signed-in user may use on their own account, whatever their role.
SELF_SERVICE = {"auth.login", "auth.logout", "settings.change_password", "password.forgot"}
# Routes only owners and admins may use.
ADMIN_ONLY = {"settings.update_tenant", "settings.create_token", "settings.revoke_token",
              "settings.add_sending_domain", "settings.verify_sending_domain", "settings.remove_sending_domain",
              "team.invite", "team.resend_invite", "team.revoke_invite", "team.change_role", "team.remove_member",
              "deliverability.save_provider", "deliverability.new_key", "deliverability.create_dkim_key",
              "webhook_endpoints.create", "webhook_endpoints.update", "webhook_endpoints.set_enabled",
              "webhook_endpoints.delete", "webhook_endpoints.reveal", "webhook_endpoints.resend"}
# Pages only owners may open (admins get 403 too).
OWNER_ONLY = {"audit.index"}
# Pages for the people who receive emails, not for marketers: no session, an unguessable
# token in the URL instead, and no CSRF token (one-click unsubscribe, RFC 8058, is POSTed by
# mail providers). The session sweeps skip them; their own tests cover the tokens. The
# invitation and password reset pages do take a CSRF token: tests/web/test_team.py checks it.
PUBLIC_TOKEN_ROUTES = {"unsubscribe.confirm", "unsubscribe.unsubscribe", "unsubscribe.view_in_browser",
                       "assets.serve", "team.accept", "password.reset", "unsubscribe.save",
                       # Signup forms' hosted page and confirmation link (tests/signup_forms covers them).
                       "hosted_forms.show", "hosted_forms.submit", "hosted_forms.confirm_page", "hosted_forms.confirm",
                       # An event's calendar file by its signed link (tests/events/clock covers it).
                       "calendar_files.event_file",
                       # Waitlists' join page and offer link (tests/events/test_waitlist_pages.py covers them).
                       "waitlist_pages.show", "waitlist_pages.join", "waitlist_pages.offer", "waitlist_pages.claim"}


@dataclass(frozen=True)
class WebRoute:
    rule: str
    endpoint: str
    method: str
    arguments: frozenset[str]

    def __str__(self) -> str:
        return f"{self.method} {self.rule}"

    def url(self, ids: dict[str, int]) -> str:
        path = self.rule
        for name in self.arguments:
            key = ROUTE_ARGUMENTS.get((self.endpoint, name), name)
            assert key in ids, f"{self}: no test value for <{name}>; add one to world_a"
            path = path.replace(f"<int:{name}>", str(ids[key]))
        assert "<" not in path, f"{self}: unhandled URL argument in {path}"
        return path


@cache
def web_routes() -> tuple[WebRoute, ...]:
    """Every (rule, method) of the HTML side, from a throwaway app's URL map."""
    from webapp import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "routes", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith("/api/"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append(WebRoute(rule.rule, rule.endpoint, method, frozenset(rule.arguments)))
    return tuple(routes)


def marketer_routes() -> list[WebRoute]:
    return [r for r in web_routes() if r.endpoint not in PUBLIC_TOKEN_ROUTES]


def state_changing_routes() -> list[WebRoute]:
    return [r for r in marketer_routes() if r.method != "GET"]


def id_routes() -> list[WebRoute]:
    return [r for r in marketer_routes() if r.arguments]


def pytest_generate_tests(metafunc):
    if "state_changing_route" in metafunc.fixturenames:
        routes = state_changing_routes()
        metafunc.parametrize("state_changing_route", routes, ids=[str(r) for r in routes])
    if "id_route" in metafunc.fixturenames:
        routes = id_routes()
        metafunc.parametrize("id_route", routes, ids=[str(r) for r in routes])


@pytest.fixture
def form_data(password):
    """form_data(route) -> valid form data for it (without the CSRF token)."""

    def build(route: WebRoute) -> dict:
        assert route.endpoint in VALID_FORM_DATA, (
            f"{route} is a new state-changing route: add valid form data for it to VALID_FORM_DATA")
        return {key: password if value == SUITE_PASSWORD else value() if callable(value) else value
                for key, value in VALID_FORM_DATA[route.endpoint].items()}

    return build


# --- the database, before and after ---------------------------------------------------

def snapshot() -> dict[str, str]:
    """Every row of every table (as a digest per table), read on a fresh connection (so
    nothing is cached)."""
    return database_state()
