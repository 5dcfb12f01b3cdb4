"""Before sending: the checklist on the confirmation page, the inbox preview, and the
warnings a save flashes.

Each check is ok, a warning (worth fixing, never stops a send) or a blocker (the send
would fail or reach nobody: the confirmation refuses it). What the API's send refuses is
unchanged (no segment, no postal address, no sender, a From domain that is not the
tenant's): a segment that looks empty now is recalculated when the send starts, so an
integration that sends straight after creating its segment keeps working.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.errors import NotFound, ValidationFailed
from webapp.models import Customer, CustomerSegmentMember, EmailCampaign, SendingDomain, Tenant
from webapp.services.campaigns.drafts import get_campaign
from webapp.services.campaigns.rendering import preview_campaign, preview_content, sender_of
from webapp.services.campaigns.sending import segment_audience
from webapp.services.merge_tags import TagWarning, unknown_tags
from webapp.services.segments import get_segment
from webapp.services.sending_domains import check_from_address, domain_of

LEVELS = ("blocker", "warning", "ok")
MIN_TEXT_WITH_IMAGES = 500  # characters of visible text below which images dominate
TEXT_PER_IMAGE = 100  # characters of text per image below which it reads as images only
SUBJECT_VISIBLE = 60  # characters of a subject a phone's inbox shows
SNIPPET = 140  # characters of preheader an inbox list shows at most
_JINJA_BLOCK = re.compile(r"{%.*?%}|{#.*?#}", re.DOTALL)
_JINJA_PRINT = re.compile(r"{{.*?}}", re.DOTALL)
_SPACES = re.compile(r"\s+")
_LINK_TAGS = ("unsubscribe_url", "view_in_browser_url")


@dataclass(frozen=True)
class Check:
    """One line of the checklist: `level` is ok, warning or blocker."""

    key: str
    label: str
    level: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "label": self.label, "level": self.level, "detail": self.detail}


@dataclass(frozen=True)
class InboxPreview:
    """How an inbox list shows the message, for `customer_email` (None: a nameless sample)."""

    sender_name: str
    sender_email: str
    subject: str
    snippet: str
    snippet_is_preheader: bool
    at: datetime | None
    customer_email: str | None


@dataclass(frozen=True)
class Review:
    checks: list[Check]
    inbox: InboxPreview | None

    @property
    def blockers(self) -> list[Check]:
        return [c for c in self.checks if c.level == "blocker"]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.level == "warning"]

    @property
    def passed(self) -> list[Check]:
        return [c for c in self.checks if c.level == "ok"]


# --- reading the HTML -----------------------------------------------------------------------

class _Scan(HTMLParser):
    """The links (address and text), images (attributes) and visible text of an email."""

    _INVISIBLE = frozenset({"style", "script", "title", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str | None, str]] = []
        self.images: list[dict[str, str | None]] = []
        self.text: list[str] = []
        self._open_links: list[tuple[str | None, list[str]]] = []
        self._invisible = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._INVISIBLE:
            self._invisible += 1
        elif tag == "a":
            self._open_links.append((dict(attrs).get("href"), []))
        elif tag == "img":
            self.images.append(dict(attrs))
            if self._open_links:
                self._open_links[-1][1].append(dict(attrs).get("alt") or "an image")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("img", "a"):
            self.handle_starttag(tag, attrs)
            if tag == "a":
                self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._INVISIBLE:
            self._invisible = max(0, self._invisible - 1)
        elif tag == "a" and self._open_links:
            href, words = self._open_links.pop()
            self.links.append((href, _SPACES.sub(" ", " ".join(words)).strip()))

    def handle_data(self, data: str) -> None:
        if self._invisible:
            return
        self.text.append(data)
        if self._open_links:
            self._open_links[-1][1].append(data)

    def close(self) -> None:
        super().close()
        while self._open_links:  # an <a> never closed is still a link
            self.handle_endtag("a")


def _scan(html: str) -> _Scan:
    scan = _Scan()
    scan.feed(html or "")
    scan.close()
    return scan


def _visible_text(scan: _Scan) -> str:
    # Merge tags print something (a name, a date): counted as a short word, blocks as nothing.
    text = _JINJA_PRINT.sub("xxxxxx", _JINJA_BLOCK.sub(" ", " ".join(scan.text)))
    return _SPACES.sub(" ", text).strip()


def _link_problem(href: str | None) -> str | None:
    """Why a link's address is wrong, or None when it is fine (or personalised)."""
    value = (href or "").strip()
    if not value:
        return "has no address"
    if value.startswith("#"):
        return "goes to “#”, nowhere"
    if "{{" in value or "{%" in value:
        return None  # personalised: filled for each customer (merge tags are checked on their own)
    parts = urlsplit(value)
    if parts.scheme.lower() in ("mailto", "tel", "sms"):
        return None
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return None
    return f"goes to “{_short(value, 60)}”, which is not a full web address (https://…)"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


# --- the checks -----------------------------------------------------------------------------

def _audience_check(tenant_id: int, campaign: EmailCampaign) -> tuple[Check, int | None]:
    if campaign.segment_id is None:
        return Check("audience", "Recipients", "blocker", "Choose a segment to send to."), None
    try:
        segment = get_segment(tenant_id, campaign.segment_id)
    except NotFound:
        return Check("audience", "Recipients", "blocker", "The segment no longer exists: choose another."), None
    count = segment_audience(tenant_id, segment.id)
    if count == 0:
        return Check("audience", "Recipients", "blocker",
                     f"Nobody in “{segment.name}” can get email right now: recalculate the segment or choose "
                     "another one."), None
    people = "1 person" if count == 1 else f"{count:,} people"
    return Check("audience", "Recipients", "ok", f"{people} in “{segment.name}”."), segment.id


def _sender_checks(tenant: Tenant, campaign: EmailCampaign) -> list[Check]:
    checks = []
    if not (tenant.postal_address or "").strip():
        checks.append(Check("postal_address", "Postal address", "blocker",
                            "Set your organisation's postal address in Settings: the law requires it in every "
                            "marketing email."))
    address = campaign.from_email or tenant.sender_email
    if not address:
        checks.append(Check("sender", "Sender", "blocker",
                            "Set a from address on the campaign, or a sender in Settings."))
        return checks
    try:
        check_from_address(tenant.id, address, "from_email")
    except ValidationFailed as exc:
        checks.append(Check("sender", "Sender domain", "blocker", f"{exc.reason[:1].upper()}{exc.reason[1:]}."))
        return checks
    domain = domain_of(address)
    status = db.session.scalar(select(SendingDomain.status).where(SendingDomain.tenant_id == tenant.id,
                                                                  SendingDomain.domain == domain))
    if status != "verified":
        checks.append(Check("sender", "Sender domain", "warning",
                            f"{domain} is not verified yet: mailbox providers trust verified domains more."))
    else:
        checks.append(Check("sender", "Sender domain", "ok", f"Sending from {address} ({domain} is verified)."))
    return checks


def _test_check(campaign: EmailCampaign, tenant: Tenant) -> Check:
    if campaign.last_test_sent_at is None:
        return Check("test_sent", "Test email", "warning",
                     "No test sent yet: send yourself one to see it in a real inbox before everyone does.")
    try:
        zone = ZoneInfo(tenant.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return Check("test_sent", "Test email", "ok",
                 f"Last test sent {campaign.last_test_sent_at.astimezone(zone):%d %b %Y at %H:%M}.")


def _subject_checks(campaign: EmailCampaign) -> list[Check]:
    subject = (campaign.subject or "").strip()
    checks = []
    if not subject:
        checks.append(Check("subject", "Subject", "blocker", "Write a subject."))
    else:
        letters = [c for c in _JINJA_PRINT.sub("", _JINJA_BLOCK.sub("", subject)) if c.isalpha()]
        if len(letters) >= 4 and all(c.isupper() for c in letters):
            checks.append(Check("subject", "Subject", "warning",
                                "The subject is all capitals: it reads as shouting and spam filters count it "
                                "against you."))
        elif len(subject) > SUBJECT_VISIBLE + 20:
            checks.append(Check("subject", "Subject", "warning",
                                f"The subject is {len(subject)} characters: phones show about {SUBJECT_VISIBLE}, "
                                "put what matters first."))
        else:
            checks.append(Check("subject", "Subject", "ok", "Set, in normal capitals."))
    if (campaign.preheader or "").strip():
        checks.append(Check("preheader", "Preheader", "ok", "Set."))
    else:
        checks.append(Check("preheader", "Preheader", "warning",
                            "No preheader: inboxes show the first words of the email beside the subject instead."))
    return checks


def _link_check(scan: _Scan) -> Check:
    broken = [(text, problem) for href, text in scan.links if (problem := _link_problem(href))]
    if not broken:
        count = len(scan.links)
        detail = "No links." if not count else "The link goes to a full web address." if count == 1 \
            else f"All {count} links go to full web addresses."
        return Check("links", "Links", "ok", detail)
    listed = "; ".join(f"“{_short(text or 'a link', 40)}” {problem}" for text, problem in broken[:3])
    more = f" (and {len(broken) - 3} more)" if len(broken) > 3 else ""
    return Check("links", "Links", "warning", f"{len(broken)} {'link needs' if len(broken) == 1 else 'links need'} "
                                             f"fixing: {listed}{more}.")


def _content_images(scan: _Scan) -> list[dict[str, str | None]]:
    # A 1x1 image is a tracking pixel or a spacer, not content.
    return [img for img in scan.images if not (img.get("width") == "1" and img.get("height") == "1")]


def _alt_check(scan: _Scan) -> Check:
    images = _content_images(scan)
    missing = [img for img in images if not (img.get("alt") or "").strip()]
    if not images:
        return Check("alt_text", "Image descriptions", "ok", "No images.")
    if missing:
        which = "1 image has" if len(missing) == 1 else f"{len(missing)} of {len(images)} images have"
        return Check("alt_text", "Image descriptions", "warning",
                     f"{which} no alt text: many inboxes hide images until asked, and show the alt text instead.")
    return Check("alt_text", "Image descriptions", "ok", "Every image has alt text.")


def _unsubscribe_check(html: str, scan: _Scan) -> Check:
    # compose() adds its footer (unsubscribe link, postal address) unless the template names
    # unsubscribe_url itself.
    if "unsubscribe_url" not in (html or ""):
        return Check("unsubscribe", "Unsubscribe link", "ok",
                     "Added for you: the footer we add has the unsubscribe link and your postal address.")
    if any("unsubscribe_url" in (href or "") for href, _ in scan.links):
        return Check("unsubscribe", "Unsubscribe link", "ok", "Your email has its own unsubscribe link.")
    return Check("unsubscribe", "Unsubscribe link", "warning",
                 "The email mentions unsubscribe_url but no link goes to it, so our footer is left out: make it a "
                 "link's address.")


def _ratio_check(scan: _Scan) -> Check:
    images = len(_content_images(scan))
    chars = len(_visible_text(scan))
    if images and (chars < MIN_TEXT_WITH_IMAGES or chars < images * TEXT_PER_IMAGE):
        return Check("image_ratio", "Images and text", "warning",
                     f"{images} {'image' if images == 1 else 'images'} and only {chars:,} characters of text: "
                     "spam filters distrust image-heavy emails, and people with images off see little. "
                     "Add some text.")
    detail = f"{images} {'image' if images == 1 else 'images'}, {chars:,} characters of text." if images \
        else f"Text only ({chars:,} characters)."
    return Check("image_ratio", "Images and text", "ok", detail)


def _merge_tag_check(warnings: list[TagWarning]) -> Check:
    if not warnings:
        return Check("merge_tags", "Personalisation", "ok", "Every merge tag is a field we know.")
    listed = " ".join(w.message + ("" if w.message.endswith("?") else ".") for w in warnings[:3])
    more = f" (and {len(warnings) - 3} more)" if len(warnings) > 3 else ""
    return Check("merge_tags", "Personalisation", "warning", f"{listed}{more}")


def _template_sources(campaign: EmailCampaign) -> dict[str, str | None]:
    # A design's tags are in the HTML it compiled to: that is what is sent.
    return {"subject": campaign.subject, "preheader": campaign.preheader, "content": campaign.html_content,
            "text_content": campaign.text_content}


# --- the review -----------------------------------------------------------------------------

def _sample_customer(tenant_id: int, segment_id: int | None) -> Customer | None:
    """A subscribed member of the segment to preview as, one with a first name if any."""
    if segment_id is None:
        return None
    return db.session.scalar(
        select(Customer).join(CustomerSegmentMember, CustomerSegmentMember.customer_id == Customer.id)
        .where(CustomerSegmentMember.segment_id == segment_id, Customer.tenant_id == tenant_id,
               Customer.is_reachable)
        .order_by(Customer.first_name.is_(None), Customer.id).limit(1))


def _inbox(tenant_id: int, campaign: EmailCampaign, tenant: Tenant, customer: Customer | None,
           preview: dict[str, str]) -> InboxPreview:
    name, email = sender_of(campaign, tenant)
    snippet, from_preheader = "", False
    if (campaign.preheader or "").strip():
        # Rendered like the subject line, through the same preview (never raw tags on screen).
        try:
            snippet = preview_content(tenant_id, {"subject": campaign.preheader, "html_content": "<p></p>"},
                                      customer.id if customer else None)["subject"]
            from_preheader = True
        except ValidationFailed:
            snippet = ""
    if not snippet:
        snippet = _SPACES.sub(" ", preview.get("text") or "").strip()
    return InboxPreview(sender_name=name or email, sender_email=email, subject=preview["subject"],
                        snippet=_short(snippet, SNIPPET), snippet_is_preheader=from_preheader,
                        at=campaign.scheduled_at, customer_email=customer.email if customer else None)


def presend_review(tenant_id: int, campaign_id: int) -> Review:
    """The checklist and the inbox preview (rendered once for a sample customer of the
    segment; a template that fails to render is a blocker and there is no preview)."""
    campaign = get_campaign(tenant_id, campaign_id)
    tenant = db.session.get(Tenant, tenant_id)
    audience, segment_id = _audience_check(tenant_id, campaign)
    checks = [audience, *_sender_checks(tenant, campaign), _test_check(campaign, tenant), *_subject_checks(campaign)]
    customer = _sample_customer(tenant_id, segment_id)
    inbox = None
    try:
        preview = preview_campaign(tenant_id, campaign.id, customer.id if customer else None)
    except ValidationFailed as exc:
        checks.append(Check("content", "Content", "blocker", f"The email cannot be made: {exc.reason}"))
    else:
        inbox = _inbox(tenant_id, campaign, tenant, customer, preview)
    scan = _scan(campaign.html_content)
    checks += [_link_check(scan), _alt_check(scan), _unsubscribe_check(campaign.html_content, scan),
               _ratio_check(scan), _merge_tag_check(unknown_tags(tenant_id, _template_sources(campaign)))]
    checks.sort(key=lambda c: LEVELS.index(c.level))
    return Review(checks, inbox)


def presend_checklist(tenant_id: int, campaign_id: int) -> list[Check]:
    """What to fix before sending, blockers first, then warnings, then what passed."""
    return presend_review(tenant_id, campaign_id).checks


def campaign_warnings(tenant_id: int, campaign: EmailCampaign) -> list[str]:
    """What a save flashes after "Saved.": each merge tag that is not a field we know."""
    return [w.message for w in unknown_tags(tenant_id, _template_sources(campaign))]


def checklist_json(checks: list[Check]) -> list[dict[str, Any]]:
    return [check.as_dict() for check in checks]
