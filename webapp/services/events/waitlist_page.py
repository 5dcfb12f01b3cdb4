"""Joining an event's waitlist from its hosted page (/w/<public token>): no account, an
email address and how many tickets.

Bots are kept out as on signup forms (a signed fill token from the page's GET that also
stands in for CSRF, a honeypot, a minimum fill time; the web layer adds a per-address rate
limit). Anyone can type anyone's address here, so joining changes nothing about a known
customer, and someone new becomes a customer who is NOT subscribed to marketing: a waitlist
is a request for one kind of message (the offer), not consent to campaigns, and nothing is
recorded as marketing consent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from webapp.extensions import db
from webapp.infra.errors import Conflict, ValidationFailed
from webapp.infra.types import utcnow
from webapp.models import Event, EventWaitlist, WaitlistEntry
from webapp.services.changes import customer_changed
from webapp.services.customers import find_customer, upsert_customer
from webapp.services.events.waitlist import MAX_QUANTITY, join, log_joined, positions
from webapp.services.signup_forms.submissions import check_fill_token, sign_fill
from webapp.services.tenants import normalise_email

# What a customer created by joining a waitlist is: reachable by the offer they asked for
# (send_email lets a waitlist_offer enrollment through), by no campaign.
NOT_SUBSCRIBED = "unsubscribed"


FILL_SALT = "waitlist-join-fill"


def fill_token(waitlist: EventWaitlist, issued_at: float | None = None) -> str:
    """The token the page's GET puts in the form: which waitlist, and when it was shown."""
    return sign_fill(FILL_SALT, waitlist.public_token, issued_at)


def check_fill(waitlist: EventWaitlist, token: str | None, honeypot: str | None, now: float | None = None) -> None:
    """Raise LikelyBot or FillProblem unless a person plausibly filled the form in."""
    check_fill_token(FILL_SALT, waitlist.public_token, token, honeypot, now)


@dataclass
class JoinAnswers:
    email: str
    quantity: int


def read_answers(values: Any) -> tuple[JoinAnswers | None, dict[str, str]]:
    """The page's fields checked: (answers, {}) or (None, {field: message for the person})."""
    errors: dict[str, str] = {}
    raw_email = str(values.get("email") or "").strip()
    email = ""
    if not raw_email:
        errors["email"] = "Enter your email address."
    elif len(raw_email) > 320 or "\x00" in raw_email:
        errors["email"] = "Enter a valid email address."
    else:
        try:
            email = normalise_email(raw_email)
        except ValidationFailed:
            errors["email"] = "Enter a valid email address, like name@example.com."
    raw_quantity = str(values.get("quantity") or "1").strip()
    quantity = int(raw_quantity) if raw_quantity.isdigit() and len(raw_quantity) < 4 else 0
    if not 1 <= quantity <= MAX_QUANTITY:
        errors["quantity"] = f"Choose between 1 and {MAX_QUANTITY} tickets."
    return (None, errors) if errors else (JoinAnswers(email, quantity), {})


def join_from_page(waitlist: EventWaitlist, event: Event, answers: JoinAnswers,
                   *, now: datetime | None = None) -> tuple[WaitlistEntry, int | None]:
    """Put the address on the event's waitlist (creating an unsubscribed customer when
    unknown); commits. Returns the entry and its place in the queue (None once offered).
    Raises Conflict when the waitlist is closed."""
    now = now or utcnow()
    tenant_id = event.tenant_id
    customer = find_customer(tenant_id, email=answers.email)
    if customer is None:
        customer, created = upsert_customer(tenant_id, {"email": answers.email}, commit=False)
        if created:
            # Set directly, not through a status change: nobody said anything about marketing,
            # so there is no consent record (given or withdrawn) to write.
            customer.email_status = NOT_SUBSCRIBED
            db.session.flush()
    try:
        entry, created = join(tenant_id, event, customer.id, quantity=answers.quantity, source="page", now=now)
    except Conflict:
        db.session.rollback()
        raise
    if created:
        log_joined(customer, event, answers.quantity, "page")
    db.session.flush()
    customer_changed(tenant_id, customer.id)
    db.session.commit()
    return entry, positions(event.id, [entry.id]).get(entry.id)
