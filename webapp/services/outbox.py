"""The local outbox (MAIL_URL=outbox): the tenant's stored messages, newest first, and
one message taken apart for reading (headers, HTML part, text part)."""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.errors import NotFound
from webapp.infra.pagination import Page, keyset_by_id
from webapp.models import EmailCampaign, OutboxMessage


def outbox_page(tenant_id: int, *, limit: int = 50, cursor: str | None = None) -> Page:
    """The tenant's messages, newest first, as (message, campaign name or None) pairs.

    The raw bytes stay in the database: a list never needs them."""
    stmt = (select(OutboxMessage.id, OutboxMessage.recipient, OutboxMessage.subject, OutboxMessage.created_at,
                   OutboxMessage.campaign_id, EmailCampaign.name.label("campaign_name"))
            .outerjoin(EmailCampaign, EmailCampaign.id == OutboxMessage.campaign_id)
            .where(OutboxMessage.tenant_id == tenant_id))
    return keyset_by_id(stmt, OutboxMessage.id, limit=limit, cursor=cursor, scalars=False)


def get_outbox_message(tenant_id: int, message_id: int) -> OutboxMessage:
    """The tenant's stored message, or NotFound (also for other tenants' ids)."""
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id,
                                                            OutboxMessage.tenant_id == tenant_id))
    if message is None:
        raise NotFound("message not found")
    return message


@dataclass
class ReadableMessage:
    headers: list[tuple[str, str]]
    html: str | None
    text: str | None


def read_message(raw: bytes) -> ReadableMessage:
    """Headers in their order, and the HTML and plain-text bodies decoded to str."""
    parsed: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)
    html_part = parsed.get_body(preferencelist=("html",))
    text_part = parsed.get_body(preferencelist=("plain",))
    return ReadableMessage(
        headers=[(name, str(value)) for name, value in parsed.items()
                 if name.lower() not in ("content-type", "content-transfer-encoding", "mime-version")],
        html=html_part.get_content() if html_part is not None else None,
        text=text_part.get_content() if text_part is not None else None,
    )
