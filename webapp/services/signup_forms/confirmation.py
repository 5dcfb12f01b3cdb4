"""The confirmation email of a double opt-in signup: composed from the form's editable
subject and text with a button to the single-use link, from the organisation's sender, and
sent by a job at the organisation's sending rate (shared with its campaigns).

The link's secret is made when the email goes out and only its hash is stored, in the same
commit that records the send (the transport's two-phase send): a retried job makes a new
secret and the email that carried an older one never left.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from flask import current_app
from markupsafe import Markup
from sqlalchemy import select, update

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.mail.design import brand_of
from webapp.mail.transport import open_transport
from webapp.models import PendingSignup, SignupForm, Tenant
from webapp.services.campaigns.allowance import SendAllowance
from webapp.services.tenants import hash_token

BUTTON = "Confirm my subscription"
HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
# The sweep sends what a lost job did not, for signups this young (older ones wait for the
# person to submit again: the form says so on an expired link).
SWEEP_AFTER = timedelta(minutes=1)
SWEEP_UNTIL = timedelta(hours=6)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _paragraphs(text: str) -> list[str]:
    return [" ".join(part.split()) for part in re.split(r"\n\s*\n", text or "") if part.strip()]


def sender_of(tenant: Tenant) -> tuple[str, str]:
    """(name, address): the organisation's sender, else the product's own address in its name."""
    return tenant.sender_name or tenant.name, tenant.sender_email or current_app.config["MAIL_SYSTEM_FROM"]


def confirmation_html(form: SignupForm, tenant: Tenant, link: str) -> str:
    """The HTML part (also the editor's preview): the form's text, escaped, and the button in
    the brand colour."""
    brand = brand_of(tenant.brand)
    colour = brand["primary_color"] if HEX_COLOUR.match(str(brand["primary_color"])) else "#3355ff"
    text_colour = brand["button_text_color"] if HEX_COLOUR.match(str(brand["button_text_color"])) else "#ffffff"
    body = Markup("").join(Markup('<p style="margin:0 0 16px">{}</p>').format(p)
                           for p in _paragraphs(form.confirmation_body))
    footer = Markup("You get this email because this address was entered in a signup form of {org}. "
                    "If that was not you, ignore it: you will not be subscribed.").format(org=tenant.name)
    if tenant.postal_address:
        footer += Markup("<br>{}").format(_one_line(tenant.postal_address))
    return str(Markup(
        '<!doctype html><html><body style="margin:0;padding:24px 12px;background:#f4f5f7">'
        '<div style="max-width:560px;margin:0 auto;background:#ffffff;border-radius:8px;padding:28px;'
        'font-family:Helvetica,Arial,sans-serif;color:#1f2430;font-size:16px;line-height:1.5">'
        '<p style="margin:0 0 16px;font-weight:bold;font-size:18px">{org}</p>{body}'
        '<p style="margin:24px 0"><a href="{link}" style="display:inline-block;padding:12px 20px;background:{colour};'
        'color:{text_colour};border-radius:6px;text-decoration:none;font-weight:bold">{button}</a></p>'
        '<p style="margin:0 0 16px;color:#4b5263;font-size:13px">Or paste this address into your browser:<br>'
        '<span style="word-break:break-all">{link}</span></p>'
        '<p style="margin:0;color:#4b5263;font-size:12px">{footer}</p></div></body></html>'
    ).format(org=tenant.name, body=body, link=link, colour=colour, text_colour=text_colour, button=BUTTON,
             footer=footer))


def confirmation_message(form: SignupForm, tenant: Tenant, to: str, link: str) -> EmailMessage:
    name, address = sender_of(tenant)
    message = EmailMessage()
    message["From"] = formataddr((_one_line(name), address))
    message["To"] = to
    message["Subject"] = _one_line(form.confirmation_subject)
    message["Message-ID"] = make_msgid(domain=address.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    text = "\n\n".join([*_paragraphs(form.confirmation_body), f"{BUTTON}: {link}",
                        f"You get this email because this address was entered in a signup form of {tenant.name}. "
                        "If that was not you, ignore it: you will not be subscribed."]) + "\n"
    message.set_content(text)
    message.add_alternative(confirmation_html(form, tenant, link), subtype="html")
    return message


def confirm_url(secret: str) -> str:
    return f"{current_app.config['BASE_URL']}/f/confirm/{secret}"


def send_confirmation(pending_id: int) -> str:
    """Send the confirmation email of one pending signup (job body). Idempotent: a signup
    already emailed, confirmed, expired or deleted gets nothing. Returns what happened;
    a transport failure raises, so the job fails visibly and the sweep tries again."""
    pending = db.session.get(PendingSignup, pending_id)
    if pending is None or pending.emailed_at is not None or pending.confirmed_at is not None:
        db.session.rollback()
        return "nothing to send"
    if pending.expires_at <= utcnow():
        db.session.rollback()
        return "expired"
    form = db.session.get(SignupForm, pending.form_id)
    tenant = db.session.get(Tenant, pending.tenant_id)
    secret = secrets.token_urlsafe(32)
    message = confirmation_message(form, tenant, pending.email, confirm_url(secret))
    db.session.rollback()  # hold no transaction while waiting for a sending slot
    SendAllowance(tenant.id, tenant.send_rate_per_second).wait()

    def commit() -> bool:
        claimed = db.session.execute(update(PendingSignup).where(
            PendingSignup.id == pending_id, PendingSignup.emailed_at.is_(None))
            .values(emailed_at=utcnow(), token_hash=hash_token(secret))
            .execution_options(synchronize_session=False)).rowcount
        if claimed != 1:
            db.session.rollback()
            return False
        db.session.commit()
        return True

    with open_transport(current_app.config["MAIL_URL"], tenant_id=tenant.id) as transport:
        outcome = transport.send(sender_of(tenant)[1], pending.email, message.as_bytes(), commit=commit,
                                 subject=str(message["Subject"]), message_id=str(message["Message-ID"]))
    if outcome.status in ("transient", "permanent"):
        raise RuntimeError(f"the confirmation email to signup {pending_id} was not sent: {outcome.detail}")
    return outcome.status


def unsent_signup_ids(limit: int = 500) -> list[int]:
    """Double opt-in signups whose email has not gone out though its job should have run."""
    now = utcnow()
    return list(db.session.scalars(select(PendingSignup.id).where(
        PendingSignup.emailed_at.is_(None), PendingSignup.confirmed_at.is_(None),
        PendingSignup.created_at < now - SWEEP_AFTER, PendingSignup.created_at > now - SWEEP_UNTIL)
        .order_by(PendingSignup.id).limit(limit)))
