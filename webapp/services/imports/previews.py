"""The preview of an import: the first rows with the mapping applied, before it starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.models import Customer, CustomerImport
from webapp.services.imports.files import _numbered, head, read_rows
from webapp.services.imports.mapping import TARGET_LABELS, _reason, row_data, topics_by_name

PREVIEW_ROWS = 10


@dataclass
class PreviewRow:
    line: int
    values: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    action: str | None = None  # "create" or "update", for rows without an error

    @property
    def others(self) -> list[str]:
        """The values besides email, names, external id and tags, as "Label: value"."""
        shown = [f"{TARGET_LABELS[key]}: {self.values[key]}"
                 for key in ("total_spent", "orders_count", "timezone", "email_status") if key in self.values]
        if self.values.get("topic_names") is not None:
            shown.append(f"Topics: {', '.join(self.values['topic_names']) or 'none'}")
        return shown + [f"{key}: {value}" for key, value in self.values.get("attributes", {}).items()]


def preview(customer_import: CustomerImport, targets: list[str], *, rows: int = PREVIEW_ROWS) -> list[PreviewRow]:
    """The first rows with the mapping applied: the values each field gets and the row's
    error, or whether it would create or update a customer."""
    _, reader = read_rows(head(customer_import.content))
    columns = customer_import.columns
    out: list[PreviewRow] = []
    topics = topics_by_name(customer_import.tenant_id)
    for line, cells in _numbered(reader):
        if len(out) >= rows:
            break
        try:
            data = row_data(columns, targets, cells, topics)
        except ValidationFailed as exc:
            out.append(PreviewRow(line, error=_reason(exc)))
            continue
        if "topics" in data:
            names = {topic_id: name for name, topic_id in topics.items()}
            data["topic_names"] = [names[topic_id] for topic_id in data["topics"]]
        out.append(PreviewRow(line, values=data, action="create" if _existing_id(
            customer_import.tenant_id, data) is None else "update"))
    return out


def _existing_id(tenant_id: int, data: dict[str, Any]) -> int | None:
    conditions = []
    if data.get("external_id") is not None:
        conditions.append(Customer.external_id == data["external_id"])
    if data.get("email"):
        conditions.append(Customer.email == data["email"])
    return db.session.scalar(select(Customer.id).where(Customer.tenant_id == tenant_id, or_(*conditions)).limit(1))
