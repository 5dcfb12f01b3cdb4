"""One recipient's message: personalised subject, HTML and text, footer, headers, MIME."""

from __future__ import annotations

import base64
import binascii
import functools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr, make_msgid
from html import escape
from typing import Any

import css_inline
from markupsafe import Markup

from webapp.infra.types import utcnow
from webapp.mail.compiled import OPEN_URL_NAME, PREHEADER_NAME, CompiledHtml, compile_html
from webapp.mail.plain_text import html_to_text as html_to_text  # re-exported: importers find it here
from webapp.mail.templating import RenderFailed, render, render_template
from webapp.mail.tracking import PIXEL_PARTS, Tracker

_INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)
_WS = re.compile(r"[ \t]+")
_CRLF = re.compile(r"[\r\n]+")


@dataclass(frozen=True)
class RawMessage:
    """A built message, as the bytes that go over SMTP (CRLF line ends)."""

    raw: bytes

    def as_bytes(self) -> bytes:
        return self.raw


@dataclass
class Composed:
    subject: str
    html: str
    text: str
    message: RawMessage
    message_id: str


@dataclass(frozen=True)
class Attachment:
    """A file carried beside the message's text and HTML (a calendar's .ics)."""

    filename: str
    content_type: str  # with its parameters: "text/calendar; method=PUBLISH"
    data: bytes


@dataclass
class Envelope:
    """Who the message is from and to; validated when the campaign is saved."""

    from_name: str | None
    from_email: str
    reply_to: str | None
    to: str
    unsubscribe_url: str
    unsubscribe_mailto: str | None = None
    test: bool = False
    # List-Id and Feedback-ID, the same for every message of a campaign (list_id_header,
    # feedback_id_header); None leaves the header out.
    list_id: str | None = None
    feedback_id: str | None = None
    # The recipient's token, in headers each relay echoes back with a bounce or complaint
    # (relay_headers), for real deliveries only.
    message_token: str | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(slots=True)
class CustomerView:
    """A customer as plain values: what templates and the delivery loop read of one."""

    id: int
    tenant_id: int
    email: str
    first_name: str | None
    last_name: str | None
    attributes: dict[str, Any] | None
    total_spent: Any
    orders_count: int | None
    tags: list[str]


def customer_context(customer: Any) -> dict[str, Any]:
    """The allowlisted view of a customer that templates may read."""
    return {
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "tags": list(customer.tags),
        "attributes": dict(customer.attributes or {}),
        "total_spent": float(customer.total_spent or 0),
        "orders_count": customer.orders_count or 0,
    }


def tenant_context(tenant: Any) -> dict[str, Any]:
    return {"name": tenant.name, "postal_address": tenant.postal_address or ""}


def single_line(value: str) -> str:
    """Header-safe: CR/LF from data (a customer's name, say) never make a new header line."""
    return _WS.sub(" ", _CRLF.sub(" ", value)).strip()


@dataclass
class Personal:
    """One recipient's part of a message: the template context, the envelope and, for real
    sends only, the tracking rewrite of the final HTML (before CSS inlining)."""

    context: dict[str, Any]
    envelope: Envelope
    instrument: Tracker | Callable[[str], str] | None = None


@dataclass
class _Draft:
    person: Personal
    context: dict[str, Any]
    subject: str = ""
    body: str = ""
    plain: str = ""
    result: Composed | RenderFailed | None = None
    compiled: bool = False  # the body is the compiled message's: inlined, pixel in place


def compose(*, subject: str, html: str, text: str | None, preheader: str | None, context: dict[str, Any],
            envelope: Envelope, postal_address: str, instrument: Callable[[str], str] | None = None,
            inline_css: bool = True) -> Composed:
    """Render and build the message; RenderFailed carries the reason for this recipient.
    `instrument` (real sends only) rewrites the final HTML for tracking, before CSS inlining."""
    [result] = compose_many([Personal(context, envelope, instrument)], subject=subject, html=html, text=text,
                            preheader=preheader, postal_address=postal_address, inline_css=inline_css)
    if isinstance(result, RenderFailed):
        raise result
    return result


def compile_message(*, html: str, preheader: str | None, postal_address: str, inline_css: bool = True,
                    **_: Any) -> CompiledHtml | None:
    """The HTML of a tracked message compiled once for all its recipients (mail/compiled.py):
    CSS inline, footer, preheader and pixel in place; None when the template does not allow
    it (or there is no stylesheet to inline). Takes compose_many's keyword arguments."""
    if not inline_css:
        return None
    footer = None if "unsubscribe_url" in html else footer_parts(postal_address)
    return compile_html(html, footer=footer, preheader=PREHEADER_PARTS if preheader else None, pixel=PIXEL_PARTS)


def compose_many(people: list[Personal], *, subject: str, html: str, text: str | None, preheader: str | None,
                 postal_address: str, inline_css: bool = True,
                 compiled: CompiledHtml | None = None) -> list[Composed | RenderFailed]:
    """compose() for several recipients of one message, a step at a time for all of them:
    each step's code and data stay in the processor's caches from one message to the next
    (a group of 8 took a fifth less time than one message after another). A recipient whose
    message cannot be made gets the RenderFailed that says why; the others are unaffected.
    `compiled` (compile_message's, for tracked deliveries) makes each HTML body one render."""

    def subject_line(draft: _Draft) -> None:
        draft.subject = single_line(render(subject, draft.context, html=False))
        if not draft.subject:
            raise RenderFailed("the subject renders empty")

    def html_body(draft: _Draft) -> None:
        if compiled is not None and isinstance(draft.person.instrument, Tracker):
            try:
                draft.body, draft.compiled = _compiled_body(compiled, draft.context, preheader,
                                                             draft.person.instrument), True
                return
            except RenderFailed:
                pass  # the per-recipient path below fails too, with its own reason
        body = render(html, draft.context, html=True)
        draft.body = _with_footer(body, html, draft.person.envelope.unsubscribe_url, postal_address)
        if preheader:
            draft.body = _with_preheader(draft.body, single_line(render(preheader, draft.context, html=False)))

    def text_body(draft: _Draft) -> None:
        # The text comes from the markup before tracking (the original links) and, on the
        # per-recipient path, before inlining (no style attribute on every element to scan past);
        # a compiled body is inlined already, which changes no words (compiled.py checks).
        draft.plain = render(text, draft.context, html=False) if text else html_to_text(draft.body)

    def tracked(draft: _Draft) -> None:
        if draft.compiled:
            draft.body = draft.person.instrument.links(draft.body)  # type: ignore[union-attr]
        elif draft.person.instrument is not None:
            draft.body = draft.person.instrument(draft.body)

    def inlined(draft: _Draft) -> None:
        if not draft.compiled:
            draft.body = _INLINER.inline(draft.body)

    def built(draft: _Draft) -> None:
        envelope = draft.person.envelope
        if "unsubscribe" not in draft.plain.lower():
            draft.plain += f"\n\n--\nUnsubscribe: {envelope.unsubscribe_url}\n{postal_address}\n"
        message, message_id = build_message(envelope, draft.subject, draft.plain, draft.body)
        draft.result = Composed(draft.subject, draft.body, draft.plain, message, message_id)

    drafts = [_Draft(person, {**person.context, "unsubscribe_url": person.envelope.unsubscribe_url})
              for person in people]
    steps = (subject_line, html_body, text_body, tracked, inlined, built) if inline_css else \
        (subject_line, html_body, text_body, tracked, built)
    for step in steps:
        for draft in drafts:
            if draft.result is None:
                try:
                    step(draft)
                except RenderFailed as exc:
                    draft.result = exc
    return [draft.result for draft in drafts]  # type: ignore[misc]


PREHEADER_PARTS = ('<div style="display:none;max-height:0;overflow:hidden;opacity:0">', "</div>")


@functools.lru_cache(maxsize=64)
def footer_parts(postal_address: str) -> tuple[str, str]:
    """The legal footer's markup before and after its (escaped) unsubscribe URL."""
    return (f'<div style="margin-top:32px;font-size:12px;color:#6b7385;text-align:center">'
            f'<p>{escape(postal_address)}</p><p><a href="', '" style="color:#6b7385">Unsubscribe</a></p></div>')


def _compiled_body(compiled: CompiledHtml, context: dict[str, Any], preheader: str | None, tracker: Tracker) -> str:
    context = {**context, OPEN_URL_NAME: tracker.open_url()}
    if preheader:
        # Escaped as _with_preheader escapes it.
        context[PREHEADER_NAME] = Markup(escape(single_line(render(preheader, context, html=False))))
    body = render_template(compiled.template, context)
    if "\x00" in body:  # html5ever drops NUL characters: the per-recipient path's output has none
        raise RenderFailed("NUL in the rendered HTML")
    return body


def _with_footer(body: str, source: str, unsubscribe_url: str, postal_address: str) -> str:
    """Add the legal footer unless the template already places the unsubscribe link."""
    if "unsubscribe_url" in source:
        return body
    before, after = footer_parts(postal_address)
    footer = before + escape(unsubscribe_url) + after
    index = body.lower().rfind("</body>")
    return body[:index] + footer + body[index:] if index != -1 else body + footer


def _with_preheader(body: str, preheader: str) -> str:
    hidden = PREHEADER_PARTS[0] + escape(preheader) + PREHEADER_PARTS[1]
    match = re.search(r"<body[^>]*>", body, re.IGNORECASE)
    return body[:match.end()] + hidden + body[match.end():] if match else hidden + body


def build_message(envelope: Envelope, subject: str, text: str, html: str) -> tuple[RawMessage, str]:
    """multipart/alternative (text, then HTML), both quoted-printable UTF-8, written as bytes.

    The standard library's EmailMessage took ~0.8 ms per message to build and flatten, half
    of composing one; the format here is fixed, so it is written directly (the tests parse
    what comes out with the standard library and compare). Every header value is one line:
    names go through single_line and addresses are validated when the campaign is saved.
    """
    domain = envelope.from_email.rsplit("@", 1)[-1]
    message_id = make_msgid(domain=domain)
    targets = [f"<{envelope.unsubscribe_url}>"]
    if envelope.unsubscribe_mailto:
        targets.append(f"<mailto:{envelope.unsubscribe_mailto}?subject=unsubscribe>")
    headers = [
        ("To", envelope.to),
        ("Subject", ("[TEST] " if envelope.test else "") + subject),
        ("Date", _date_header(utcnow().replace(microsecond=0))),  # whole seconds: one string per second
        ("Message-ID", message_id),
    ]
    # A campaign's sender headers are the same for all its messages: written once.
    sender = _sender_headers(envelope.from_name, envelope.from_email, envelope.reply_to, envelope.list_id,
                             envelope.feedback_id)
    if envelope.message_token:
        headers += relay_headers(envelope.message_token)
    headers.append(("List-Unsubscribe", ", ".join(targets)))
    # "=_" never occurs in quoted-printable text ("=" is always written "=3D"), so the
    # boundary cannot collide with the bodies.
    boundary = f"=_{secrets.token_hex(12)}"
    parts = [sender[0], *(_header(name, value) for name, value in headers[:4]), sender[1],
             *(_header(name, value) for name, value in headers[4:]), _LAST_HEADERS]
    mixed = f"=_{secrets.token_hex(12)}" if envelope.attachments else None
    if mixed:
        # Attachments: multipart/mixed around the text/HTML alternative, then each file.
        parts.append(f'Content-Type: multipart/mixed; boundary="{mixed}"\r\n\r\n--{mixed}\r\n'.encode())
    parts.append(f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode())
    for subtype, body in (("plain", text), ("html", html)):
        parts.append(f'--{boundary}\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'
                     f"Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode())
        parts.append(_quoted_printable(body))
        parts.append(b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    if mixed:
        parts += [_attachment_part(mixed, attachment) for attachment in envelope.attachments]
        parts.append(f"--{mixed}--\r\n".encode())
    return RawMessage(b"".join(parts)), message_id


def _attachment_part(boundary: str, attachment: Attachment) -> bytes:
    """One attached file, base64 in lines of 76 ("=_" never occurs in base64, so the boundary
    cannot collide). Names are ours (event.ics): plain ASCII, no quoting needed."""
    name = single_line(attachment.filename).replace('"', "")
    encoded = base64.b64encode(attachment.data)
    lines = b"\r\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76))
    return (f'--{boundary}\r\nContent-Type: {single_line(attachment.content_type)}; charset="utf-8"; '
            f'name="{name}"\r\nContent-Disposition: attachment; filename="{name}"\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n").encode() + lines + b"\r\n"


# The recipient's token rides in one header of ours and in the one each relay copies into
# its bounce and complaint events: SES echoes the original headers (mail.headers), SendGrid
# the unique_args of X-SMTPAPI, Mailgun the X-Mailgun-Variables, Postmark X-PM-Metadata-*.
# Each relay strips its own header before delivery.
MESSAGE_HEADER = "X-CRM-Message"


def relay_headers(token: str) -> list[tuple[str, str]]:
    return [(MESSAGE_HEADER, token),
            ("X-SMTPAPI", f'{{"unique_args": {{"crm_message": "{token}"}}}}'),
            ("X-Mailgun-Variables", f'{{"crm_message": "{token}"}}'),
            ("X-PM-Metadata-crm-message", token)]


def list_id_header(name: str, slug: str, host: str, topic: tuple[int, str] | None = None) -> str:
    """List-Id (RFC 2919): the organisation's name as the phrase, and an id under our host
    that stays the same for all its mail (filters and SpamAssassin key on it). A campaign
    under a topic is its own list ("Arena: Jazz listings", topic-3.arena.list-id.host), so a
    reader's filter can tell the topics apart."""
    label = re.sub(r"[^a-z0-9-]+", "-", slug.lower()).strip("-") or "list"
    if topic is not None:
        return formataddr((single_line(f"{name}: {topic[1]}"), f"topic-{topic[0]}.{label}.list-id.{host.lower()}"),
                          charset="utf-8")
    return formataddr((single_line(name), f"{label}.list-id.{host.lower()}"), charset="utf-8")


def feedback_id_header(campaign_id: int, kind: str, tenant_id: int, sender: str) -> str:
    """Gmail's Feedback-ID, most specific first: campaign:kind:tenant:sender (its feedback
    loop reports spam rates per value of each field)."""
    return ":".join(re.sub(r"[^A-Za-z0-9._-]", "", str(part)) or "0" for part in (campaign_id, kind, tenant_id, sender))


_LAST_HEADERS = b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nMIME-Version: 1.0\r\n"


@functools.lru_cache(maxsize=256)
def _sender_headers(from_name: str | None, from_email: str, reply_to: str | None, list_id: str | None,
                    feedback_id: str | None) -> tuple[bytes, bytes]:
    """From (first), then Reply-To, List-Id and Feedback-ID (after the Message-ID), as bytes."""
    after = [("Reply-To", reply_to), ("List-Id", list_id), ("Feedback-ID", feedback_id)]
    return (_header("From", _from_header(from_name, from_email)),
            b"".join(_header(name, value) for name, value in after if value))


def _header(name: str, value: str) -> bytes:
    if "\r" in value or "\n" in value:
        raise RenderFailed(f"the {name} header would span lines")
    if value.isascii() and len(name) + len(value) < 990:
        # Within SMTP's line limit; folding a URL list would only move it to the next line.
        return f"{name}: {value}\r\n".encode("ascii")
    return _folded_header(name, value)


@functools.lru_cache(maxsize=1024)
def _folded_header(name: str, value: str) -> bytes:
    # Non-ASCII (RFC 2047 encoded words) or too long for one line: the standard library
    # folds (~50 us). A campaign's subjects and senders repeat from one recipient to the next.
    folded = Header(value, "us-ascii" if value.isascii() else "utf-8", header_name=name)
    return f"{name}: {folded.encode(linesep=chr(13) + chr(10))}\r\n".encode("ascii")


@functools.lru_cache(maxsize=4)
def _date_header(second: datetime) -> str:
    return format_datetime(second)


@functools.lru_cache(maxsize=256)
def _from_header(name: str | None, address: str) -> str:
    return formataddr((single_line(name or ""), address), charset="utf-8")


def _quoted_printable(body: str) -> bytes:
    """UTF-8, quoted-printable, CRLF line ends, lines of at most 76 characters."""
    if "\r" in body:
        body = body.replace("\r\n", "\n").replace("\r", "\n")
    plain = body.encode("utf-8")
    return binascii.b2a_qp(plain, quotetabs=False, istext=True, header=False).replace(b"\n", b"\r\n")
