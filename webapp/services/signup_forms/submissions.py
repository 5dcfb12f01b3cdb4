"""Signups through a form's hosted page, and their confirmation.

A submission is checked (bots first, then each answer), stored as a pending signup with the
evidence of consent, and confirmed through a single-use link emailed to the address (double
opt-in, the default). Nothing is subscribed before that. A single opt-in form confirms at
once, except for an address that unsubscribed, bounced or complained: anyone can type an
address into a form, so only a click in that inbox brings it back.

On confirmation the customer is created or updated (names and answers from the form),
subscribed to marketing, given the chosen topics, and the `signup` trigger fires; the
consent records keep the wording shown, and the address and browser of the submission
(and, in their context, of the confirmation).
"""

from __future__ import annotations

import hmac
import math
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, Signer
from sqlalchemy import delete, select, update

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.queues import after_commit
from webapp.infra.types import utcnow
from webapp.infra.validation import text_problem
from webapp.models import Customer, PendingSignup, SignupForm
from webapp.services.activity_log import log_activity
from webapp.services.changes import customer_changed
from webapp.services.consent import Evidence, record_consent, set_topic_choices, tenant_topics
from webapp.services.customers import find_customer, upsert_customer
from webapp.services.signup_forms.definition import offered_topics
from webapp.services.tenants import hash_token, normalise_email

PENDING_DAYS = 7
# An address gets at most one confirmation email per this many minutes: a second
# submission meanwhile is answered like the first and stores nothing.
RESEND_MINUTES = 10
# People take longer than this to fill in even an email address; scripts do not.
MIN_FILL_SECONDS = 3
# A page left open longer than this is reloaded with a fresh token (and nothing is lost: the
# answers are shown again).
FILL_TOKEN_MAX_AGE = 2 * 86400
# Signups never confirmed are personal data kept for nothing: deleted this long after their
# link expired (long enough to answer "did they sign up?" for a while).
FORGET_UNCONFIRMED_DAYS = 30
TEXT_ANSWER_LIMIT = 500
NAME_LIMIT = 200
TRUE_WORDS = {"on", "yes", "true", "1"}


class LikelyBot(Exception):
    """The honeypot was filled in: answer as if it worked, store nothing."""


class FillProblem(Exception):
    """The form token is missing, forged, stale or too fresh; the message is for the person."""


# --- keeping bots out -------------------------------------------------------------------------

FILL_SALT = "signup-form-fill"


def _signer(salt: str) -> Signer:
    return Signer(current_app.config["SECRET_KEY"], salt=salt)


def sign_fill(salt: str, page_key: str, issued_at: float | None = None) -> str:
    """A hosted page's fill token: which page (`page_key`) and when it was shown, signed under
    `salt` so that it cannot be made up or moved to another page (signup forms, waitlists)."""
    issued = int(time.time() if issued_at is None else issued_at)
    return _signer(salt).sign(f"{page_key}.{issued}").decode()


def check_fill_token(salt: str, page_key: str, token: str | None, honeypot: str | None,
                     now: float | None = None) -> None:
    """Raise LikelyBot or FillProblem unless a person plausibly filled this page's form in:
    the honeypot empty, the token this page's, shown neither too long nor too short ago."""
    if honeypot:
        raise LikelyBot()
    now = time.time() if now is None else now
    try:
        value = _signer(salt).unsign((token or "")[:300]).decode()
    except (BadSignature, UnicodeDecodeError):
        raise FillProblem("This form had expired. Check your details and press the button again.") from None
    key, _, issued = value.rpartition(".")
    if not hmac.compare_digest(key, page_key) or not issued.isdigit():
        raise FillProblem("This form had expired. Check your details and press the button again.")
    age = now - int(issued)
    if age > FILL_TOKEN_MAX_AGE:
        raise FillProblem("This page was open a long time. Check your details and press the button again.")
    if age < MIN_FILL_SECONDS:
        raise FillProblem("That was very quick. Check your details and press the button again.")


def fill_token(form: SignupForm, issued_at: float | None = None) -> str:
    """The token the hosted page's GET puts in the form."""
    return sign_fill(FILL_SALT, form.public_id, issued_at)


def check_fill(form: SignupForm, token: str | None, honeypot: str | None, now: float | None = None) -> None:
    """Raise LikelyBot or FillProblem unless a person plausibly filled this form in."""
    check_fill_token(FILL_SALT, form.public_id, token, honeypot, now)


# --- reading the answers ----------------------------------------------------------------------

def custom_input_name(key: str) -> str:
    """The hosted page's input for a custom field (prefixed: no key can shadow "email")."""
    return f"field_{key}"


@dataclass
class Answers:
    email: str
    first_name: str | None
    last_name: str | None
    attributes: dict[str, Any]
    topics: dict[int, bool]


def _plain_text(raw: str, limit: int) -> tuple[str, str | None]:
    value = " ".join(raw.split())
    if len(value) > limit:
        return value, f"Use at most {limit} characters."
    if text_problem(value):
        return value, "Remove the characters this field cannot take."
    return value, None


def _custom_answer(spec: dict[str, Any], raw: str) -> tuple[Any, str | None]:
    """(stored value, message) of one custom field's answer; value None when left empty."""
    kind = spec["kind"]
    if kind == "checkbox":
        ticked = raw.strip().lower() in TRUE_WORDS
        return ticked, ("Tick this box to go on." if spec["required"] and not ticked else None)
    text, problem = _plain_text(raw, TEXT_ANSWER_LIMIT)
    if problem:
        return None, problem
    if not text:
        return None, ("Fill this in." if spec["required"] else None)
    if kind == "number":
        try:
            number = float(text.replace(",", ""))
        except ValueError:
            return None, "Enter a number, like 3 or 2.5."
        if not math.isfinite(number) or abs(number) >= 1e15:
            return None, "Enter a number, like 3 or 2.5."
        return (int(number) if number.is_integer() else number), None
    if kind == "date":
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None, "Enter a real date, like 2026-12-31."
        if not 1900 <= day.year <= 2100:
            return None, "Enter a date between 1900 and 2100."
        return day.isoformat(), None
    if kind == "select":
        return (text, None) if text in spec["options"] else (None, "Choose one of the options.")
    return text, None


def read_answers(form: SignupForm, values: Any) -> tuple[Answers | None, dict[str, str]]:
    """The answers in `values` (the posted form: get/getlist), checked against the form;
    (None, {input name: message}) when any is wrong. Inputs the form does not have are ignored."""
    errors: dict[str, str] = {}
    raw_email = values.get("email") or ""
    email = ""
    if not raw_email.strip():
        errors["email"] = "Enter your email address."
    elif len(raw_email) > 320 or text_problem(raw_email):
        errors["email"] = "Enter a valid email address, like name@example.com."
    else:
        try:
            email = normalise_email(raw_email)
        except ValidationFailed:
            errors["email"] = "Enter a valid email address, like name@example.com."
    names: dict[str, str | None] = {}
    for name, label in (("first_name", "first name"), ("last_name", "last name")):
        mode = form.fields.get(name, "off")
        if mode == "off":
            names[name] = None
            continue
        value, problem = _plain_text(values.get(name) or "", NAME_LIMIT)
        if problem or (mode == "required" and not value):
            errors[name] = problem or f"Enter your {label}."
        names[name] = value or None
    attributes: dict[str, Any] = {}
    for spec in form.fields.get("custom") or ():
        value, problem = _custom_answer(spec, values.get(custom_input_name(spec["key"])) or "")
        if problem:
            errors[custom_input_name(spec["key"])] = problem
        elif value is not None:
            attributes[spec["key"]] = value
    ticked = set(values.getlist("topic"))
    topics = {topic.id: str(topic.id) in ticked for topic, _ in offered_topics(form)}
    if errors:
        return None, errors
    return Answers(email, names["first_name"], names["last_name"], attributes, topics), {}


# --- submitting ---------------------------------------------------------------------------------

@dataclass
class Signup:
    """What became of a submission: "pending" (check your inbox) or "subscribed"."""

    status: str
    pending: PendingSignup | None = None


def _bump(form_id: int, column: str) -> None:
    db.session.execute(update(SignupForm).where(SignupForm.id == form_id)
                       .values({column: getattr(SignupForm, column) + 1}).execution_options(synchronize_session=False))


def submit(form: SignupForm, answers: Answers, *, ip_address: str | None, user_agent: str | None) -> Signup:
    """Store a checked submission. Double opt-in: a pending signup, and its confirmation
    email after commit (at the tenant's rate, services/signup_forms/confirmation.py).
    Within RESEND_MINUTES of an unconfirmed signup of the same address, nothing is stored
    or sent and the answer is the same, so a form cannot be used to flood an inbox."""
    now = utcnow()
    recent = db.session.scalar(select(PendingSignup.id).where(
        PendingSignup.tenant_id == form.tenant_id, PendingSignup.email == answers.email,
        PendingSignup.confirmed_at.is_(None), PendingSignup.created_at > now - timedelta(minutes=RESEND_MINUTES))
        .limit(1))
    if recent is not None:
        db.session.rollback()
        return Signup("pending")
    customer = find_customer(form.tenant_id, email=answers.email)
    must_confirm = form.double_opt_in or (customer is not None and customer.email_status != "subscribed")
    pending = PendingSignup(
        tenant_id=form.tenant_id, form_id=form.id, email=answers.email, wording=form.consent_text,
        values={"first_name": answers.first_name, "last_name": answers.last_name, "attributes": answers.attributes,
                "topics": {str(k): v for k, v in answers.topics.items()}},
        ip_address=(ip_address or None) and ip_address[:64], user_agent=(user_agent or None) and user_agent[:500],
        created_at=now, expires_at=now + timedelta(days=PENDING_DAYS))
    db.session.add(pending)
    _bump(form.id, "submissions_count")
    db.session.flush()
    if must_confirm:
        after_commit("signup_forms.send_confirmation", pending.id, queue="mail", job_timeout=120)
        db.session.commit()
        return Signup("pending", pending)
    pending.confirmed_at, pending.confirm_ip, pending.confirm_user_agent = now, pending.ip_address, pending.user_agent
    _subscribe(form, pending)
    db.session.commit()
    return Signup("subscribed", pending)


# --- confirming ---------------------------------------------------------------------------------

def pending_for_link(secret: str) -> PendingSignup | None:
    if not secret or len(secret) > 100:
        return None
    return db.session.scalar(select(PendingSignup).where(PendingSignup.token_hash == hash_token(secret)))


def link_state(pending: PendingSignup | None) -> str:
    """"open", "confirmed" (used already), "expired" or "invalid"."""
    if pending is None:
        return "invalid"
    if pending.confirmed_at is not None:
        return "confirmed"
    if pending.expires_at <= utcnow():
        return "expired"
    return "open"


def confirm(secret: str, *, ip_address: str | None, user_agent: str | None) -> tuple[str, PendingSignup | None]:
    """Confirm the signup the link names: (state, pending) where state is "done" when this
    call confirmed it, else link_state's reason. The link works once: a conditional UPDATE
    claims it, so two clicks at the same moment subscribe once."""
    pending = pending_for_link(secret)
    state = link_state(pending)
    if state != "open":
        return state, pending
    now = utcnow()
    claimed = db.session.execute(update(PendingSignup).where(
        PendingSignup.id == pending.id, PendingSignup.confirmed_at.is_(None), PendingSignup.expires_at > now)
        .values(confirmed_at=now, confirm_ip=(ip_address or None) and ip_address[:64],
                confirm_user_agent=(user_agent or None) and user_agent[:500])
        .execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        db.session.rollback()
        return link_state(pending_for_link(secret)), pending
    db.session.refresh(pending)
    form = db.session.get(SignupForm, pending.form_id)
    _subscribe(form, pending)
    db.session.commit()
    return "done", pending


def _evidence(form: SignupForm, pending: PendingSignup) -> Evidence:
    confirmed_from = ", ".join(filter(None, (pending.confirm_ip, (pending.confirm_user_agent or "")[:80])))
    context = f"form “{form.name[:80]}” #{form.id}"
    if form.double_opt_in or pending.emailed_at is not None:
        context += f"; confirmed by email link from {confirmed_from or 'an unknown address'}"
    return Evidence(source="form", wording=pending.wording, ip_address=pending.ip_address,
                    user_agent=pending.user_agent, context=context[:200])


def _subscribe(form: SignupForm, pending: PendingSignup) -> Customer:
    """The confirmed signup's customer: upserted by email, subscribed, topics chosen, consent
    recorded, the signup on the timeline and the `signup` trigger fired (caller commits)."""
    values = pending.values or {}
    data: dict[str, Any] = {"email": pending.email, "attributes": values.get("attributes") or {}}
    data.update({name: values[name] for name in ("first_name", "last_name") if values.get(name)})
    customer, created = upsert_customer(form.tenant_id, data, commit=False)
    evidence = _evidence(form, pending)
    if created:
        customer.email_status = "subscribed"
    elif customer.email_status != "subscribed":
        # Only reached after a click in the inbox (submit() asks for one): the owner of the
        # address asked again, which lifts an unsubscribe, and a bounce or complaint too.
        log_activity(customer, "resubscribed", {"source": "form", "form_id": form.id, "form_name": form.name,
                                                "previous_status": customer.email_status})
        customer.email_status = "subscribed"
    record_consent(customer, evidence, granted=True)
    existing = {topic.id for topic in tenant_topics(form.tenant_id)}
    # A topic deleted since the submission is left out, not an error for the person.
    choices = {int(k): bool(v) for k, v in (values.get("topics") or {}).items() if int(k) in existing}
    set_topic_choices(customer, choices, evidence)
    properties = {"source": "form", "form_id": form.id, "form_name": form.name}
    log_activity(customer, "signup", properties)
    pending.customer_id = customer.id
    _bump(form.id, "confirmations_count")
    db.session.flush()
    customer_changed(form.tenant_id, customer.id, trigger="signup", payload=properties)
    return customer



def forget_unconfirmed(now: datetime | None = None) -> int:
    """Delete signups whose link expired FORGET_UNCONFIRMED_DAYS ago without a confirmation
    (what they held was never consented to); returns how many."""
    cutoff = (now or utcnow()) - timedelta(days=FORGET_UNCONFIRMED_DAYS)
    deleted = db.session.execute(delete(PendingSignup).where(
        PendingSignup.confirmed_at.is_(None), PendingSignup.expires_at < cutoff)).rowcount
    db.session.commit()
    return deleted
