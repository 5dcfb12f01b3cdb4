"""Sending domains: the domains a tenant may put in a From address.

A From address must be on a domain the tenant added, exactly (news@mail.venue.com needs
mail.venue.com; venue.com does not cover it): each name a message is sent from is proven
on its own, as SPF and DKIM are. A domain is proven by a TXT record
`crm-verification=<token>` at `_crm.<domain>`; unverified domains still send (a
deployment without DNS keeps working) but show as such. A domain another organisation
has verified, or a name under one, cannot be added or sent from by anyone else (unless
that tenant has verified the exact name itself, which took control of its DNS); a
verified name cannot be verified by a second tenant.
"""

from __future__ import annotations

import secrets

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.infra.errors import Conflict, NotFound, ValidationFailed
from webapp.infra.pagination import Page, keyset_by_id
from webapp.infra.types import utcnow
from webapp.mail.txt_records import DnsUnavailable, txt_values
from webapp.models import EmailCampaign, SendingDomain, Tenant

MAX_DOMAINS = 100
RECORD_LABEL = "_crm"
VALUE_PREFIX = "crm-verification="
# Campaigns whose From address is still to be used.
UNSENT = ("draft", "scheduled", "sending")


# --- names ------------------------------------------------------------------------------

def normalise_domain(text: str, field: str = "domain") -> str:
    """A domain as typed ("Mail.Venue.com.") in the form From addresses are stored in."""
    value = (text or "").strip().lower().rstrip(".")
    if not value:
        raise ValidationFailed(field, "enter a domain, e.g. mail.venue.com")
    if "@" in value or "/" in value or ":" in value:
        raise ValidationFailed(field, "enter the domain only, e.g. mail.venue.com (no address, scheme or path)")
    try:
        checked = validate_email(f"postmaster@{value}", check_deliverability=False)
    except EmailNotValidError as exc:
        # email-validator speaks of "the part after the @-sign": here that part is all they typed.
        reason = str(exc).replace("The part after the @-sign", "The domain").replace("the part after the @-sign",
                                                                                     "the domain")
        raise ValidationFailed(field, f"is not a domain you can send from: {reason}") from None
    return checked.domain.lower()


def ascii_domain(domain: str) -> str:
    """The name as DNS knows it (punycode for international domains)."""
    return validate_email(f"postmaster@{domain}", check_deliverability=False).ascii_domain.lower()


def record_name(domain: str) -> str:
    return f"{RECORD_LABEL}.{ascii_domain(domain)}"


def record_value(row: SendingDomain) -> str:
    return f"{VALUE_PREFIX}{row.verification_token}"


def domain_of(address: str) -> str:
    """The domain of a normalised address (services store addresses normalised)."""
    return address.rpartition("@")[2].strip().lower().rstrip(".")


def _self_and_parents(domain: str) -> list[str]:
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def _verified_elsewhere(tenant_id: int, domain: str) -> str | None:
    """The domain (`domain` itself or a parent) another tenant has verified, if any."""
    return db.session.scalar(select(SendingDomain.domain).where(
        SendingDomain.tenant_id != tenant_id, SendingDomain.status == "verified",
        SendingDomain.domain.in_(_self_and_parents(domain))).order_by(func.length(SendingDomain.domain).desc())
        .limit(1))


def _taken_message(domain: str, taken: str) -> str:
    if taken == domain:
        return f"{domain} is verified by another organisation"
    return f"{domain} is under {taken}, which another organisation has verified"


# --- the From rule ----------------------------------------------------------------------

def check_from_address(tenant_id: int, address: str, field: str) -> None:
    """Refuse (naming `field`) a From address that is not on one of the tenant's sending
    domains, or that another organisation has proven to be theirs."""
    domain = domain_of(address)
    rows = db.session.execute(select(SendingDomain.tenant_id, SendingDomain.domain, SendingDomain.status).where(
        SendingDomain.domain.in_(_self_and_parents(domain)))).all()
    mine = next((r for r in rows if r.tenant_id == tenant_id and r.domain == domain), None)
    if mine is not None and mine.status == "verified":
        return
    taken = sorted((r.domain for r in rows if r.tenant_id != tenant_id and r.status == "verified"),
                   key=len, reverse=True)
    if taken:
        raise ValidationFailed(field, f"{_taken_message(domain, taken[0])}; send from a domain of your own")
    if mine is None:
        raise ValidationFailed(field, f"{domain} is not one of your sending domains: add it in Settings first")


# --- the tenant's list ------------------------------------------------------------------

def tenant_domains(tenant_id: int) -> Select:
    return select(SendingDomain).where(SendingDomain.tenant_id == tenant_id)


def list_domains(tenant_id: int) -> list[SendingDomain]:
    return list(db.session.scalars(tenant_domains(tenant_id).order_by(SendingDomain.domain)))


def domains_page(tenant_id: int, *, limit: int = 50, cursor: str | None = None) -> Page:
    return keyset_by_id(tenant_domains(tenant_id), SendingDomain.id, limit=limit, cursor=cursor)


def get_domain(tenant_id: int, domain_id: int) -> SendingDomain:
    row = db.session.scalar(tenant_domains(tenant_id).where(SendingDomain.id == domain_id))
    if row is None:
        raise NotFound("sending domain not found")
    return row


def _conflict(message: str) -> Conflict:
    return Conflict(f"domain: {message}", details=[{"field": "domain", "message": message}])


def _new_domain(tenant_id: int, domain: str) -> SendingDomain:
    taken = _verified_elsewhere(tenant_id, domain)
    if taken is not None:
        raise _conflict(f"{_taken_message(domain, taken)}: it cannot be added")
    row = SendingDomain(tenant_id=tenant_id, domain=domain, verification_token=secrets.token_hex(16),
                        status="unverified")
    db.session.add(row)
    return row


def add_domain(tenant_id: int, text: str) -> SendingDomain:
    """Add a domain, unverified, with the TXT record that will prove it."""
    domain = normalise_domain(text)
    if db.session.scalar(tenant_domains(tenant_id).where(SendingDomain.domain == domain)) is not None:
        raise _conflict(f"{domain} is already one of your sending domains")
    if db.session.scalar(select(func.count()).select_from(tenant_domains(tenant_id).subquery())) >= MAX_DOMAINS:
        raise ValidationFailed("domain", f"an organisation has at most {MAX_DOMAINS} sending domains")
    row = _new_domain(tenant_id, domain)
    try:
        db.session.commit()
    except IntegrityError:  # the same domain added twice at once
        db.session.rollback()
        raise _conflict(f"{domain} is already one of your sending domains") from None
    return row


def add_domain_of(tenant_id: int, address: str, field: str = "sender_email") -> SendingDomain | None:
    """The domain of `address` as a sending domain of the tenant (added, unverified, when
    missing; not committed): what a new tenant's sender address needs to be usable."""
    domain = domain_of(address)
    existing = db.session.scalar(tenant_domains(tenant_id).where(SendingDomain.domain == domain))
    if existing is not None:
        return existing
    try:
        return _new_domain(tenant_id, domain)
    except Conflict as exc:
        raise ValidationFailed(field, exc.details[0]["message"]) from None


def verify_domain(tenant_id: int, domain_id: int) -> SendingDomain:
    """Look for the TXT record now (DNS_RESOLVER, DNS_TIMEOUT). Found: verified. Missing,
    or DNS unreachable: still unverified, with the reason in last_check_error."""
    row = get_domain(tenant_id, domain_id)
    if row.verified:
        return row
    taken = _verified_elsewhere(tenant_id, row.domain)
    if taken == row.domain:
        raise _conflict(f"{_taken_message(row.domain, taken)}: it cannot be verified again")
    name, expected = record_name(row.domain), record_value(row)
    db.session.commit()  # no transaction stays open while DNS is asked
    config = current_app.config
    try:
        values = txt_values(name, nameserver=config.get("DNS_RESOLVER"), timeout=float(config.get("DNS_TIMEOUT", 3)))
    except DnsUnavailable as exc:
        error = f"DNS could not be reached ({exc}); the domain stays unverified, try again later"
    else:
        error = None if expected in (v.strip() for v in values) else (
            f"no TXT record {expected} at {name} yet (DNS changes can take a while to appear)")
    row = get_domain(tenant_id, domain_id)
    row.last_checked_at = utcnow()
    row.last_check_error = error
    if error is None:
        row.status, row.verified_at = "verified", row.last_checked_at
    try:
        db.session.commit()
    except IntegrityError:  # another organisation verified it while DNS was asked
        db.session.rollback()
        raise _conflict(f"{row.domain} is verified by another organisation: it cannot be verified again") from None
    return row


def remove_domain(tenant_id: int, domain_id: int) -> None:
    """Remove a domain nothing still to be sent uses (the sender in Settings, campaigns
    not sent yet); those would otherwise fail the From rule when they are sent."""
    row = get_domain(tenant_id, domain_id)
    tenant = db.session.get(Tenant, tenant_id)
    if tenant.sender_email and domain_of(tenant.sender_email) == row.domain:
        raise _conflict(f"the sender email in Settings ({tenant.sender_email}) uses {row.domain}: change it first")
    names = db.session.scalars(select(EmailCampaign.name).where(
        EmailCampaign.tenant_id == tenant_id, EmailCampaign.status.in_(UNSENT),
        func.lower(EmailCampaign.from_email).endswith(f"@{row.domain}", autoescape=True))
        .order_by(EmailCampaign.id).limit(4)).all()
    if names:
        listed = ", ".join(f"“{n}”" for n in names[:3]) + (", …" if len(names) > 3 else "")
        raise _conflict(f"campaigns not sent yet send from {row.domain} ({listed}): change their from address first")
    db.session.delete(row)
    db.session.commit()
