"""What emails are built from: templates, saved blocks and uploaded images."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.infra.types import JsonDoc, UTCDateTime, utcnow

TEMPLATE_KINDS = ("template", "block")


class EmailTemplate(db.Model):
    """A tenant's template (a whole design or HTML) or saved block (kind 'block': one block
    reused across designs, e.g. a header). Starter templates ship as files, not rows."""

    __tablename__ = "email_templates"
    __table_args__ = (Index("ix_email_templates_tenant_kind", "tenant_id", "kind", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default="template", server_default="template")
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(300))
    preheader: Mapped[str | None] = mapped_column(String(300))
    design: Mapped[dict | None] = mapped_column(JsonDoc)
    html_content: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class EmailAsset(db.Model):
    """An uploaded image, checked and re-encoded; served at a URL made of its random token,
    which says nothing of the tenant or of other files."""

    __tablename__ = "email_assets"
    __table_args__ = (
        UniqueConstraint("token", name="uq_email_assets_token"),
        Index("ix_email_assets_tenant_id", "tenant_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    token: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(50))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    # Where the stored bytes are: a key in the local folder or the S3 bucket.
    storage_key: Mapped[str] = mapped_column(String(300))
    alt: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
