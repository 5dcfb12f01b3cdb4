"""The audit log: who did what to the tenant's account, when and from where."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.infra.types import JsonDoc, UTCDateTime, utcnow

ACTOR_KINDS = ("user", "token", "system")


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    # Read newest first, whole or filtered by action or by person (keyset on id).
    __table_args__ = (Index("ix_audit_events_tenant_id", "tenant_id", "id"),
                      Index("ix_audit_events_tenant_action", "tenant_id", "action", "id"),
                      Index("ix_audit_events_tenant_actor", "tenant_id", "actor_user_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(10))
    # The links go when the person or token is deleted; the label stays to say who it was.
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(320))
    address: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    target_type: Mapped[str | None] = mapped_column(String(30))
    target_id: Mapped[int | None] = mapped_column(Integer)
    target_label: Mapped[str | None] = mapped_column(String(320))
    # {field: [old, new]}; secrets appear as changed, never with their values.
    changes: Mapped[dict | None] = mapped_column(JsonDoc)
