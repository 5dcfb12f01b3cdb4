"""Signup forms as marketers define them: fields, offered topics, wording, double opt-in,
the confirmation email and the success message. The API and the form builder both save
through here, so a rule (another organisation's topic, a select without options) is
refused the same way on both, naming the field."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any

from flask import current_app
from markupsafe import Markup
from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.errors import NotFound, ValidationFailed
from webapp.infra.pagination import Page, keyset_by_id
from webapp.infra.types import utcnow
from webapp.infra.validation import text_problem
from webapp.models import CUSTOM_FIELD_KINDS, FORM_STATUSES, NAME_FIELD_MODES, SignupForm, Tenant, Topic
from webapp.services.consent import tenant_topics

MAX_CUSTOM_FIELDS = 20
MAX_OPTIONS = 50
MAX_TOPICS = 50
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
# Text limits of the editable parts (the columns are Text: these keep a page readable).
LIMITS = {"name": 200, "consent_text": 2000, "confirmation_subject": 200, "confirmation_body": 5000,
          "success_message": 1000}
EDITABLE = ("name", "fields", "topics", "consent_text", "double_opt_in", "confirmation_subject",
            "confirmation_body", "success_message", "status")


# --- defaults -------------------------------------------------------------------------------

def default_texts(organisation: str) -> dict[str, str]:
    """What a new form says until the marketer writes their own, in the organisation's name."""
    return {
        "consent_text": f"Yes, {organisation} may email me news and offers. I can unsubscribe at any time.",
        "confirmation_subject": f"Confirm your subscription to {organisation}",
        "confirmation_body": (f"Thanks for signing up to hear from {organisation}.\n\n"
                              "Please confirm your email address with the button below. If you did not sign up, "
                              "ignore this email: you will not be subscribed."),
        "success_message": f"Thank you! You are subscribed to emails from {organisation}.",
    }


DEFAULT_FIELDS: dict[str, Any] = {"first_name": "optional", "last_name": "off", "custom": []}


# --- checking a definition ------------------------------------------------------------------

def _text(value: Any, field: str, *, required: bool = True, one_line: bool = False) -> str:
    if not isinstance(value, str):
        raise ValidationFailed(field, "must be text")
    value = value.strip()
    if required and not value:
        raise ValidationFailed(field, "must not be empty")
    limit = LIMITS.get(field)
    if limit and len(value) > limit:
        raise ValidationFailed(field, f"at most {limit:,} characters")
    if one_line and ("\r" in value or "\n" in value):
        raise ValidationFailed(field, "must be one line")
    if reason := text_problem(value):
        raise ValidationFailed(field, reason)
    return value


def _custom_field(raw: Any, field: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValidationFailed(field, "must be an object with key, label and kind")
    key = raw.get("key")
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise ValidationFailed(f"{field}.key", "1-50 lower-case letters, digits and _, starting with a letter")
    label = _text(raw.get("label"), f"{field}.label")
    if len(label) > 100:
        raise ValidationFailed(f"{field}.label", "at most 100 characters")
    kind = raw.get("kind", "text")
    if kind not in CUSTOM_FIELD_KINDS:
        raise ValidationFailed(f"{field}.kind", f"must be one of {', '.join(CUSTOM_FIELD_KINDS)}")
    options: list[str] = []
    if kind == "select":
        raw_options = raw.get("options") or []
        if not isinstance(raw_options, list) or not raw_options:
            raise ValidationFailed(f"{field}.options", "a choice field needs at least one option")
        if len(raw_options) > MAX_OPTIONS:
            raise ValidationFailed(f"{field}.options", f"at most {MAX_OPTIONS} options")
        for i, option in enumerate(raw_options):
            text = _text(option, f"{field}.options[{i}]")
            if len(text) > 100:
                raise ValidationFailed(f"{field}.options[{i}]", "at most 100 characters")
            if text in options:
                raise ValidationFailed(f"{field}.options[{i}]", f"“{text}” is offered twice")
            options.append(text)
    return {"key": key, "label": label, "kind": kind, "required": bool(raw.get("required", False)),
            "options": options}


def clean_fields(raw: Any, field: str = "fields") -> dict[str, Any]:
    """The fields a form asks for, checked: names off/optional/required, custom attributes
    with unique keys (the customer attribute each answer is stored under)."""
    if not isinstance(raw, Mapping):
        raise ValidationFailed(field, "must be an object")
    clean: dict[str, Any] = {}
    for name in ("first_name", "last_name"):
        mode = raw.get(name, DEFAULT_FIELDS[name])
        if mode not in NAME_FIELD_MODES:
            raise ValidationFailed(f"{field}.{name}", f"must be one of {', '.join(NAME_FIELD_MODES)}")
        clean[name] = mode
    custom = raw.get("custom") or []
    if not isinstance(custom, list):
        raise ValidationFailed(f"{field}.custom", "must be a list")
    if len(custom) > MAX_CUSTOM_FIELDS:
        raise ValidationFailed(f"{field}.custom", f"at most {MAX_CUSTOM_FIELDS} fields")
    clean["custom"] = []
    for i, item in enumerate(custom):
        checked = _custom_field(item, f"{field}.custom[{i}]")
        if any(other["key"] == checked["key"] for other in clean["custom"]):
            raise ValidationFailed(f"{field}.custom[{i}].key", f"“{checked['key']}” is used by another field")
        clean["custom"].append(checked)
    return clean


def clean_topics(tenant_id: int, raw: Any, field: str = "topics") -> list[dict[str, Any]]:
    """The offered topics, each the tenant's own (another organisation's id is refused like
    a missing one, naming the entry), once each."""
    if not isinstance(raw, list):
        raise ValidationFailed(field, "must be a list")
    if len(raw) > MAX_TOPICS:
        raise ValidationFailed(field, f"at most {MAX_TOPICS} topics")
    mine = {topic.id for topic in tenant_topics(tenant_id)}
    clean: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        topic_id = item.get("id") if isinstance(item, Mapping) else None
        if isinstance(topic_id, bool) or not isinstance(topic_id, int):
            raise ValidationFailed(f"{field}[{i}].id", "must be a topic id")
        if topic_id not in mine:
            raise ValidationFailed(f"{field}[{i}].id", f"no topic {topic_id} in this organisation")
        if any(entry["id"] == topic_id for entry in clean):
            raise ValidationFailed(f"{field}[{i}].id", "this topic is offered twice")
        clean.append({"id": topic_id, "checked": bool(item.get("checked", False))})
    return clean


def _clean(tenant_id: int, data: Mapping[str, Any]) -> dict[str, Any]:
    """The given keys of `data`, checked; ValidationFailed names the first field at fault."""
    clean: dict[str, Any] = {}
    for name in ("name", "consent_text", "confirmation_body", "success_message"):
        if name in data:
            clean[name] = _text(data[name], name)
    if "confirmation_subject" in data:
        clean["confirmation_subject"] = _text(data["confirmation_subject"], "confirmation_subject", one_line=True)
    if "name" in clean:
        clean["name"] = " ".join(clean["name"].split())
    if "fields" in data:
        clean["fields"] = clean_fields(data["fields"])
    if "topics" in data:
        clean["topics"] = clean_topics(tenant_id, data["topics"])
    if "double_opt_in" in data:
        if not isinstance(data["double_opt_in"], bool):
            raise ValidationFailed("double_opt_in", "must be true or false")
        clean["double_opt_in"] = data["double_opt_in"]
    if "status" in data:
        if data["status"] not in FORM_STATUSES:
            raise ValidationFailed("status", f"must be one of {', '.join(FORM_STATUSES)}")
        clean["status"] = data["status"]
    return clean


# --- the tenant's forms ---------------------------------------------------------------------

def get_form(tenant_id: int, form_id: int) -> SignupForm:
    """The tenant's form, or NotFound (also for another tenant's id)."""
    form = db.session.scalar(select(SignupForm).where(SignupForm.id == form_id, SignupForm.tenant_id == tenant_id))
    if form is None:
        raise NotFound("form not found")
    return form


def forms_page(tenant_id: int, *, limit: int = 50, cursor: str | None = None) -> Page:
    """The tenant's forms, newest first, a page at a time."""
    return keyset_by_id(select(SignupForm).where(SignupForm.tenant_id == tenant_id), SignupForm.id,
                        limit=limit, cursor=cursor)


def create_form(tenant_id: int, data: Mapping[str, Any]) -> SignupForm:
    """A new form: what `data` gives (name required), the rest from the defaults (first
    name optional, double opt-in on, texts in the organisation's name)."""
    if not data.get("name"):
        raise ValidationFailed("name", "give the form a name")
    tenant = db.session.get(Tenant, tenant_id)
    values: dict[str, Any] = {**default_texts(tenant.name), "fields": DEFAULT_FIELDS, "topics": [],
                              "double_opt_in": True, "status": "active"}
    values.update(_clean(tenant_id, data))
    now = utcnow()
    form = SignupForm(tenant_id=tenant_id, public_id=secrets.token_urlsafe(16), created_at=now, updated_at=now,
                      **values)
    db.session.add(form)
    db.session.commit()
    return form


def update_form(tenant_id: int, form_id: int, changes: Mapping[str, Any]) -> SignupForm:
    """Apply the given keys; everything is checked before anything changes."""
    form = get_form(tenant_id, form_id)
    for key, value in _clean(tenant_id, changes).items():
        setattr(form, key, value)
    form.updated_at = utcnow()
    db.session.commit()
    return form


def delete_form(tenant_id: int, form_id: int) -> None:
    """Delete the form and its unconfirmed signups (their links stop working). Customers it
    brought in, and their consent records (which name the form), stay."""
    db.session.delete(get_form(tenant_id, form_id))
    db.session.commit()


# --- what the hosted page shows -------------------------------------------------------------

def active_form(public_id: str) -> SignupForm | None:
    """The form a public address names, if it takes signups (not archived)."""
    if not public_id or len(public_id) > 32:
        return None
    form = db.session.scalar(select(SignupForm).where(SignupForm.public_id == public_id))
    return form if form is not None and form.status == "active" else None


def offered_topics(form: SignupForm) -> list[tuple[Topic, bool]]:
    """(topic, ticked by default) for each offered topic that still exists, in the form's order."""
    topics = {topic.id: topic for topic in tenant_topics(form.tenant_id)}
    return [(topics[entry["id"]], bool(entry.get("checked"))) for entry in form.topics or ()
            if entry.get("id") in topics]


def hosted_url(form: SignupForm) -> str:
    return f"{current_app.config['BASE_URL']}/f/{form.public_id}"


def embed_height(form: SignupForm) -> int:
    """Pixels the hosted form needs in an iframe: no script from us can measure it there."""
    fields = 1 + sum(form.fields.get(name) != "off" for name in ("first_name", "last_name")) + \
        len(form.fields.get("custom") or [])
    return 300 + 84 * fields + 36 * len(form.topics or []) + 24 * (len(form.consent_text) // 60 + 1)


def embed_snippet(form: SignupForm) -> str:
    """The HTML to paste into a website: an iframe of the hosted page (see web/hosted_forms.py
    for why an iframe rather than a bare <form>)."""
    return str(Markup('<iframe src="{url}" title="{title}" loading="lazy" '
                      'style="width:100%;max-width:520px;height:{height}px;border:0"></iframe>').format(
        url=hosted_url(form), title=form.name, height=embed_height(form)))
