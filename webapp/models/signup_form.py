"""Signup forms (what the hosted page at /f/<public_id> asks for and promises) and the
signups made through them, pending until the address's owner confirms."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.infra.types import JsonDoc, UTCDateTime, utcnow

FORM_STATUSES = ("active", "archived")
# How a form asks for a name: not at all, optionally, or as a required field.
NAME_FIELD_MODES = ("off", "optional", "required")
CUSTOM_FIELD_KINDS = ("text", "number", "date", "checkbox", "select")


class SignupForm(db.Model):
    """A form people subscribe through. `fields` is {"first_name": mode, "last_name": mode,
    "custom": [{"key", "label", "kind", "required", "options"}]} (email is always asked);
    `topics` is [{"id", "checked"}]: the topics offered, ticked by default or not."""

    __tablename__ = "signup_forms"
    __table_args__ = (Index("ix_signup_forms_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    # In the hosted page's URL: random, so forms cannot be found by counting.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    topics: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc)
    # Shown beside the button and kept with each consent record.
    consent_text: Mapped[str] = mapped_column(Text)
    double_opt_in: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    confirmation_subject: Mapped[str] = mapped_column(String(200))
    confirmation_body: Mapped[str] = mapped_column(Text)
    success_message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    # Counted as they happen (one UPDATE each), so the list needs no count over signups.
    submissions_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    confirmations_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PendingSignup(db.Model):
    """One submission of a form: what was typed and chosen, and the evidence of consent
    (wording shown, address, browser). Nothing is subscribed until it is confirmed through
    the emailed link (single opt-in forms confirm it at once). Only the SHA-256 of the
    link's secret is kept; the secret is made when the email goes out."""

    __tablename__ = "pending_signups"
    __table_args__ = (
        # The per-address rule: a recent unconfirmed signup of the same address.
        Index("ix_pending_signups_tenant_email", "tenant_id", "email", "created_at"),
        # The sweep that sends confirmation emails a lost job did not.
        Index("ix_pending_signups_unsent", "emailed_at", "created_at"),
        Index("ix_pending_signups_form", "form_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    form_id: Mapped[int] = mapped_column(ForeignKey("signup_forms.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    # {"first_name", "last_name", "attributes": {...}, "topics": {topic id: bool}}
    values: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    # The form's consent text as it was shown (the form may be edited before confirmation).
    wording: Mapped[str | None] = mapped_column(Text)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirm_ip: Mapped[str | None] = mapped_column(String(64))
    confirm_user_agent: Mapped[str | None] = mapped_column(String(500))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
