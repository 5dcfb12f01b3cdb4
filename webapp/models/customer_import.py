"""Customer CSV imports: the uploaded file, its column mapping, progress and rejected rows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.infra.types import BigId, JsonDoc, UTCDateTime, utcnow

# uploaded: waiting for its mapping; queued/running: the job's; done or failed at the end.
IMPORT_STATUSES = ("uploaded", "queued", "running", "done", "failed")


class CustomerImport(db.Model):
    __tablename__ = "customer_imports"
    __table_args__ = (
        Index("ix_customer_imports_tenant_id", "tenant_id", "id"),
        # The reconciler looks for imports whose job was lost.
        Index("ix_customer_imports_status", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    # The file itself, so a worker on another machine can read it; loaded only when read.
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    columns: Mapped[list] = mapped_column(JsonDoc, default=list)
    # One target per column, in column order: a field name, "attribute[:key]" or "ignore".
    mapping: Mapped[list] = mapped_column(JsonDoc, default=list)
    status: Mapped[str] = mapped_column(String(20), default="uploaded")
    source: Mapped[str] = mapped_column(String(20), default="web")
    created_by: Mapped[str | None] = mapped_column(String(320))
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    processed_rows: Mapped[int] = mapped_column(Integer, default=0)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    rejected_count: Mapped[int] = mapped_column(Integer, default=0)
    # The worker that owns the run; another may take over once updated_at is stale.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    @property
    def paused(self) -> bool:
        """Back in the queue after chunks were written: contention kept its next chunk out
        (services/imports/runner.py), and the periodic resume carries it on."""
        return self.status == "queued" and bool(self.processed_rows)

    @property
    def shown_status(self) -> str:
        return "paused" if self.paused else self.status

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.finished else 0
        return min(100, self.processed_rows * 100 // self.total_rows)


class CustomerImportRejection(db.Model):
    """A row the import refused, with the reason, as the file had it."""

    __tablename__ = "customer_import_rejections"
    __table_args__ = (UniqueConstraint("import_id", "line", name="uq_customer_import_rejections_line"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("customer_imports.id", ondelete="CASCADE"))
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # Line number in the file (the header is line 1).
    line: Mapped[int] = mapped_column(Integer)
    field: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    values: Mapped[list] = mapped_column(JsonDoc, default=list)
