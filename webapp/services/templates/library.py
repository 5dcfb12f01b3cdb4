"""The tenant's templates and saved blocks, and the starters listed with them.

A template is a whole email: a block design (compiled to HTML when saved, with the brand
kit) or raw HTML, with an optional subject and preheader. A saved block is one block (a
header, a footer) the builder's palette offers again; it is stored as a one-block design so
the same validation covers both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.infra.errors import Conflict, NotFound, ValidationFailed
from webapp.infra.pagination import Page, keyset_by_id
from webapp.infra.types import MAX_ID
from webapp.infra.validation import text_problem
from webapp.mail.design import brand_of, validate_design
from webapp.mail.templating import check_template_field
from webapp.models import EmailTemplate, Tenant
from webapp.services.campaigns import compiled_design
from webapp.services.templates import starters

MAX_NAME = 200
MAX_LINE = 300
MAX_HTML = 500_000
# Enough for any real library; a bound so a script cannot fill the table.
MAX_PER_TENANT = 1000


@dataclass
class TemplateView:
    """A template as callers see it, a starter or a row alike."""

    id: int | str
    name: str
    subject: str | None
    preheader: str | None
    design: dict[str, Any] | None
    html: str
    starter: bool = False
    description: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def starter_key(self) -> str | None:
        """"on-sale" for "starter:on-sale"; None for the tenant's own."""
        return self.id.removeprefix(starters.PREFIX) if isinstance(self.id, str) else None


# --- validation --------------------------------------------------------------------------

def _line(field: str, value: Any, *, required: bool = False, limit: int = MAX_LINE) -> str | None:
    if value is None:
        if required:
            raise ValidationFailed(field, "is required")
        return None
    if not isinstance(value, str):
        raise ValidationFailed(field, "must be text")
    value = value.strip()
    if not value:
        if required:
            raise ValidationFailed(field, "must not be empty")
        return None
    if len(value) > limit:
        raise ValidationFailed(field, f"must be at most {limit} characters")
    if "\r" in value or "\n" in value:
        raise ValidationFailed(field, "must not contain line breaks")
    if reason := text_problem(value):
        raise ValidationFailed(field, reason)
    return value


def _content(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("content", "must not be empty")
    if len(value) > MAX_HTML:
        raise ValidationFailed("content", f"must be at most {MAX_HTML} characters")
    if reason := text_problem(value):
        raise ValidationFailed("content", reason)
    check_template_field("content", value, html=True)
    return value


def _validated(tenant_id: int, data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """Service field names in and out: name, subject, preheader, and design or content."""
    out: dict[str, Any] = {}
    if creating or "name" in data:
        out["name"] = _line("name", data.get("name"), required=True, limit=MAX_NAME)
    for field in ("subject", "preheader"):
        if field in data:
            out[field] = _line(field, data[field])
            check_template_field(field, out[field], html=False)
    has_design, has_content = data.get("design") is not None, data.get("content") is not None
    if has_design and has_content:
        raise ValidationFailed("design", "give either design or content, not both")
    if creating and not (has_design or has_content):
        raise ValidationFailed("design", "give a design (blocks) or content (HTML)")
    if has_design:
        out["design"], out["html_content"] = compiled_design(tenant_id, data["design"])
    elif has_content:
        out["design"], out["html_content"] = None, _content(data["content"])
    return out


# --- reading -----------------------------------------------------------------------------

def _view(row: EmailTemplate) -> TemplateView:
    return TemplateView(id=row.id, name=row.name, subject=row.subject, preheader=row.preheader,
                        design=row.design, html=row.html_content or "", created_at=row.created_at,
                        updated_at=row.updated_at)


def _branded(design: dict[str, Any], brand: dict[str, Any]) -> dict[str, Any]:
    """A starter in the tenant's brand, as a new design would be: the logo on top and the
    default footer text (colours and font come from the brand when compiled)."""
    blocks = [dict(block) for block in design["blocks"]]
    if brand.get("logo_asset_id"):
        blocks.insert(0, {"type": "image", "asset_id": brand["logo_asset_id"], "alt": "Logo", "width": 160,
                          "align": "center"})
    for block in blocks:
        if block["type"] == "footer" and not block.get("text"):
            block["text"] = brand.get("footer_text") or ""
    return {**design, "blocks": blocks}


def _starter_view(tenant_id: int, key: str, brand: dict[str, Any]) -> TemplateView:
    found = starters.starter(key)
    design, html = compiled_design(tenant_id, _branded(found["design"], brand))
    return TemplateView(id=starters.PREFIX + key, name=found["name"], subject=found.get("subject"),
                        preheader=found.get("preheader"), design=design, html=html, starter=True,
                        description=found.get("description", ""))


def _brand(tenant_id: int) -> dict[str, Any]:
    tenant = db.session.get(Tenant, tenant_id)
    return brand_of(tenant.brand if tenant is not None else None)


def starter_templates(tenant_id: int) -> list[TemplateView]:
    """The five starters, compiled with this tenant's brand kit."""
    brand = _brand(tenant_id)
    return [_starter_view(tenant_id, key, brand) for key in starters.starter_keys()]


def _rows(tenant_id: int, kind: str):
    return select(EmailTemplate).where(EmailTemplate.tenant_id == tenant_id, EmailTemplate.kind == kind)


def templates_page(tenant_id: int, *, limit: int = 50, cursor: str | None = None,
                   include_starters: bool = True) -> Page:
    """The tenant's templates, newest first, a keyset page at a time; the first page (no
    cursor) starts with the starters, which `limit` does not count."""
    page = keyset_by_id(_rows(tenant_id, "template"), EmailTemplate.id, limit=limit, cursor=cursor)
    items = [_view(row) for row in page.items]
    if cursor is None and include_starters:
        items = starter_templates(tenant_id) + items
    return Page(items, page.next_cursor)


def parse_template_id(raw: Any) -> int | str:
    """An id as callers pass it: an integer (the tenant's row) or "starter:<key>"; anything
    else can name no template, so it is a NotFound like a missing one."""
    if isinstance(raw, bool):
        raise NotFound("template not found")
    if isinstance(raw, int):
        if 0 < raw <= MAX_ID:
            return raw
        raise NotFound("template not found")
    if isinstance(raw, str):
        if raw.isascii() and raw.isdigit() and len(raw) <= 10:
            return parse_template_id(int(raw))
        if starters.starter_key(raw) is not None:
            return raw
    raise NotFound("template not found")


def _row(tenant_id: int, template_id: int, kind: str = "template") -> EmailTemplate:
    row = db.session.scalar(_rows(tenant_id, kind).where(EmailTemplate.id == template_id))
    if row is None:
        raise NotFound("block not found" if kind == "block" else "template not found")
    return row


def get_template(tenant_id: int, template_id: Any) -> TemplateView:
    """One template, a starter ("starter:on-sale") or the tenant's own (another tenant's: NotFound)."""
    parsed = parse_template_id(template_id)
    if isinstance(parsed, str):
        return _starter_view(tenant_id, starters.starter_key(parsed), _brand(tenant_id))
    return _view(_row(tenant_id, parsed))


# --- writing -----------------------------------------------------------------------------

def _room_for_one_more(tenant_id: int, kind: str) -> None:
    count = db.session.scalar(select(func.count()).select_from(_rows(tenant_id, kind).subquery()))
    if count >= MAX_PER_TENANT:
        noun = "saved blocks" if kind == "block" else "templates"
        raise Conflict(f"you have {MAX_PER_TENANT} {noun}; delete some before saving more")


def create_template(tenant_id: int, data: dict[str, Any]) -> TemplateView:
    """A template from {name, design | content, subject?, preheader?}; a design is validated
    and compiled with the brand kit, HTML is checked as a campaign's would be."""
    values = _validated(tenant_id, data, creating=True)
    _room_for_one_more(tenant_id, "template")
    row = EmailTemplate(tenant_id=tenant_id, kind="template", **values)
    db.session.add(row)
    db.session.commit()
    return _view(row)


def _writable(tenant_id: int, template_id: Any) -> EmailTemplate:
    parsed = parse_template_id(template_id)
    if isinstance(parsed, str):
        raise Conflict("starter templates cannot be changed; create a template from it instead")
    return _row(tenant_id, parsed)


def update_template(tenant_id: int, template_id: Any, changes: dict[str, Any]) -> TemplateView:
    """Rename or change a template; giving design (or content) replaces the other."""
    row = _writable(tenant_id, template_id)
    values = _validated(tenant_id, changes, creating=False)
    for key, value in values.items():
        setattr(row, key, value)
    db.session.commit()
    return _view(row)


def delete_template(tenant_id: int, template_id: Any) -> None:
    db.session.delete(_writable(tenant_id, template_id))
    db.session.commit()


# --- saved blocks ------------------------------------------------------------------------

def _block_dict(row: EmailTemplate) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "block": (row.design or {}).get("blocks", [{}])[0]}


def saved_blocks(tenant_id: int) -> list[dict[str, Any]]:
    """The tenant's saved blocks, by name: [{"id", "name", "block"}] (the builder's palette)."""
    rows = db.session.scalars(_rows(tenant_id, "block").order_by(EmailTemplate.name, EmailTemplate.id))
    return [_block_dict(row) for row in rows]


def save_block(tenant_id: int, name: Any, block: Any) -> dict[str, Any]:
    """Keep one block under a name; it is validated as a one-block design would be."""
    name = _line("name", name, required=True, limit=MAX_NAME)
    if not isinstance(block, dict):
        raise ValidationFailed("block", "must be one block (an object with a type)")
    try:
        design = validate_design({"version": 1, "blocks": [block]}, field="design")
    except ValidationFailed as exc:
        # design.blocks[0].url -> block.url: the caller sent one block, not a design.
        field = exc.field.replace("design.blocks[0]", "block", 1) if exc.field.startswith("design.blocks[0]") \
            else "block"
        raise ValidationFailed(field, exc.reason) from None
    _room_for_one_more(tenant_id, "block")
    row = EmailTemplate(tenant_id=tenant_id, kind="block", name=name, design=design)
    db.session.add(row)
    db.session.commit()
    return _block_dict(row)


def delete_block(tenant_id: int, block_id: int) -> None:
    db.session.delete(_row(tenant_id, block_id, "block"))
    db.session.commit()
