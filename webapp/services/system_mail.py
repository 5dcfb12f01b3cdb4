"""Emails the product itself sends to its users (invitations, password reset links), through
the same transport as campaigns (the outbox in development and tests, SMTP otherwise), from
MAIL_SYSTEM_FROM (config.py)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from flask import current_app
from markupsafe import Markup

from webapp.extensions import db
from webapp.mail.transport import open_transport

PRODUCT_NAME = "Ticketing CRM"


def _one_line(text: str) -> str:
    # Names typed by people end up in a Subject: no line break may start a header of its own.
    return " ".join(text.split())


def compose(to: str, subject: str, paragraphs: list[str], link: str, button: str) -> EmailMessage:
    """A plain message: paragraphs of text, one link, as text and as simple HTML (escaped)."""
    sender = current_app.config["MAIL_SYSTEM_FROM"]
    message = EmailMessage()
    message["From"] = formataddr((PRODUCT_NAME, sender))
    message["To"] = to
    message["Subject"] = _one_line(subject)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    text = "\n\n".join([*paragraphs, f"{button}: {link}", f"— {PRODUCT_NAME}"]) + "\n"
    message.set_content(text)
    body = Markup("").join(Markup("<p>{}</p>").format(p) for p in paragraphs)
    html = Markup(
        '<!doctype html><html><body style="font-family:Helvetica,Arial,sans-serif;color:#1f2430;'
        'max-width:560px;margin:24px auto;line-height:1.5">{body}'
        '<p><a href="{link}" style="display:inline-block;padding:10px 18px;background:#1d4ed8;color:#ffffff;'
        'border-radius:6px;text-decoration:none">{button}</a></p>'
        '<p style="color:#4b5263;font-size:13px">Or paste this address into your browser:<br>{link}</p>'
        '<p style="color:#4b5263;font-size:13px">— {product}</p></body></html>'
    ).format(body=body, link=link, button=button, product=PRODUCT_NAME)
    message.add_alternative(str(html), subtype="html")
    return message


def send(tenant_id: int, message: EmailMessage) -> str:
    """Send now; returns the outcome's status ("sent", or why not). The outbox keeps it under
    the tenant, so the Outbox page shows invitations and reset links in development."""
    sender = current_app.config["MAIL_SYSTEM_FROM"]
    with open_transport(current_app.config["MAIL_URL"], tenant_id=tenant_id) as transport:
        outcome = transport.send(sender, str(message["To"]), message.as_bytes(), commit=_commit,
                                 subject=str(message["Subject"]), message_id=str(message["Message-ID"]))
    if outcome.status != "sent":
        current_app.logger.warning("system email to a user was not sent: %s %s", outcome.status, outcome.detail)
    return outcome.status


def _commit() -> bool:
    db.session.commit()
    return True


def absolute(path: str) -> str:
    return current_app.config["BASE_URL"] + path


def invite_message(to: str, tenant_name: str, inviter: str, role: str, link: str, days: int) -> EmailMessage:
    return compose(
        to, f"{inviter} invited you to {tenant_name} on {PRODUCT_NAME}",
        [f"{inviter} invited you to join {tenant_name} on {PRODUCT_NAME} as {role}.",
         f"Open the link below to choose your name and password. It works once, for {days} days."],
        link, "Accept the invitation")


def reset_message(to: str, link: str, minutes: int) -> EmailMessage:
    return compose(
        to, f"Reset your {PRODUCT_NAME} password",
        ["Someone (we hope you) asked to reset the password of this address.",
         f"Open the link below to choose a new one. It works once, for {minutes} minutes, and signs out "
         "your other sessions.",
         "If you did not ask for this, ignore this email: your password stays as it is."],
        link, "Choose a new password")

