"""Designs: the block tree checked, and compiled once (per save) to responsive email HTML
through MJML. Merge tags stay in the HTML as Jinja: personalisation happens per recipient
at send time, on the compiled HTML, so a design sends as fast as hand-written HTML."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import mrml

from webapp.infra.errors import ValidationFailed
from webapp.mail.design.blocks import BLOCK_TYPES, Compiling
from webapp.mail.design.fields import _COLOR, check_value

DESIGN_VERSION = 1
MAX_BLOCKS = 200
FONT_STACKS = (
    ("Helvetica, Arial, sans-serif", "Helvetica / Arial"),
    ("Georgia, 'Times New Roman', serif", "Georgia (serif)"),
    ("'Trebuchet MS', Tahoma, sans-serif", "Trebuchet"),
    ("Verdana, Geneva, sans-serif", "Verdana"),
    ("'Courier New', Courier, monospace", "Courier (monospace)"),
)
DEFAULT_BRAND: dict[str, Any] = {
    "logo_asset_id": None, "logo_url": None, "primary_color": "#3355ff", "text_color": "#1f2430",
    "link_color": "#3355ff", "background_color": "#f4f5f7", "content_background": "#ffffff",
    "font_family": FONT_STACKS[0][0], "button_radius": 4, "button_text_color": "#ffffff", "footer_text": "",
}
SETTINGS = ("background_color", "content_background", "text_color", "link_color", "font_family")
_BLOCK_KEYS = {"type", "id"}
EMPTY_BODY = '<mj-section><mj-column><mj-spacer height="8px" /></mj-column></mj-section>'


def brand_of(stored: dict[str, Any] | None) -> dict[str, Any]:
    """The tenant's brand kit with defaults for whatever is not set."""
    return {**DEFAULT_BRAND, **{k: v for k, v in (stored or {}).items() if k in DEFAULT_BRAND and v is not None}}


def default_design(brand: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a new design starts from: the logo when the brand has one, a heading, a
    paragraph with the customer's first name, a button and the footer."""
    brand = brand_of(brand)
    blocks: list[dict[str, Any]] = []
    if brand.get("logo_asset_id"):
        blocks.append({"type": "image", "asset_id": brand["logo_asset_id"], "alt": "Logo", "width": 160,
                       "align": "center"})
    blocks += [
        {"type": "heading", "text": "Your headline", "level": 1, "align": "left"},
        {"type": "text", "align": "left",
         "html": '<p>Hi {{ customer.first_name | default("there") }},</p><p>Tell your fans what is on.</p>'},
        {"type": "button", "text": "Get tickets", "url": "", "align": "center"},
        {"type": "footer", "text": brand.get("footer_text") or "", "show_address": True,
         "show_view_in_browser": True},
    ]
    return validate_design({"version": DESIGN_VERSION, "blocks": blocks})


def builder_schema() -> dict[str, Any]:
    """Every block type with its fields, for the builder's palette and side panel."""
    return {"version": DESIGN_VERSION, "blocks": [b.schema() for b in BLOCK_TYPES.values()],
            "fonts": [list(f) for f in FONT_STACKS]}


# --- validation -------------------------------------------------------------------------

def validate_design(raw: Any, field: str = "design") -> dict[str, Any]:
    """The design normalised (defaults filled, rich text sanitised), or ValidationFailed
    naming the path of what is wrong, e.g. `design.blocks[3].url`."""
    if not isinstance(raw, dict):
        raise ValidationFailed(field, "must be an object with version and blocks")
    unknown = set(raw) - {"version", "settings", "blocks"}
    if unknown:
        raise ValidationFailed(f"{field}.{sorted(unknown)[0]}", "unknown field")
    if raw.get("version", DESIGN_VERSION) != DESIGN_VERSION:
        raise ValidationFailed(f"{field}.version", f"must be {DESIGN_VERSION}")
    counter = [0]
    return {"version": DESIGN_VERSION, "settings": _settings(raw.get("settings"), f"{field}.settings"),
            "blocks": _blocks(raw.get("blocks"), f"{field}.blocks", counter, nested=False)}


def _settings(raw: Any, path: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValidationFailed(path, "must be an object")
    out = {}
    for key, value in raw.items():
        if key not in SETTINGS:
            raise ValidationFailed(f"{path}.{key}", "unknown setting")
        if value in (None, ""):
            continue
        if key == "font_family":
            if value not in {f[0] for f in FONT_STACKS}:
                raise ValidationFailed(f"{path}.{key}", "must be one of the email-safe font stacks")
        elif not isinstance(value, str) or not _COLOR.match(value):
            raise ValidationFailed(f"{path}.{key}", "must be a colour like #3355ff")
        out[key] = value.lower() if key != "font_family" else value
    return out


def _blocks(raw: Any, path: str, counter: list[int], *, nested: bool) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise ValidationFailed(path, "must be a list of blocks")
    return [_block(item, f"{path}[{i}]", counter, nested=nested) for i, item in enumerate(raw)]


def _block(raw: Any, path: str, counter: list[int], *, nested: bool) -> dict[str, Any]:
    counter[0] += 1
    if counter[0] > MAX_BLOCKS:
        raise ValidationFailed(path, f"a design holds at most {MAX_BLOCKS} blocks")
    if not isinstance(raw, dict):
        raise ValidationFailed(path, "must be a block object with a type")
    kind = BLOCK_TYPES.get(raw.get("type")) if isinstance(raw.get("type"), str) else None
    if kind is None:
        raise ValidationFailed(f"{path}.type", "must be one of " + ", ".join(BLOCK_TYPES))
    names = {f.name for f in kind.fields}
    unknown = set(raw) - names - _BLOCK_KEYS
    if unknown:
        raise ValidationFailed(f"{path}.{sorted(unknown)[0]}", f"is not a field of a {kind.type} block")
    out: dict[str, Any] = {"type": kind.type}
    if "id" in raw:
        if not isinstance(raw["id"], str) or len(raw["id"]) > 40:
            raise ValidationFailed(f"{path}.id", "must be a short text")
        out["id"] = raw["id"]
    if kind.container:
        if nested:
            raise ValidationFailed(f"{path}.type", "columns cannot hold columns")
        columns = raw.get("columns")
        if not isinstance(columns, list) or not 2 <= len(columns) <= 3:
            raise ValidationFailed(f"{path}.columns", "must be 2 or 3 lists of blocks")
        out["columns"] = [_blocks(col, f"{path}.columns[{i}]", counter, nested=True)
                          for i, col in enumerate(columns)]
        return out
    for spec in kind.fields:
        out[spec.name] = check_value(spec, raw.get(spec.name), f"{path}.{spec.name}")
    return out


def walk_blocks(design: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every block of a design, columns' blocks included."""
    for block in design.get("blocks", []):
        yield block
        for column in block.get("columns", ()) if block["type"] == "columns" else ():
            yield from column


def asset_ids(design: dict[str, Any]) -> set[int]:
    """The uploaded images a design shows."""
    return {b["asset_id"] for b in walk_blocks(design) if b["type"] == "image" and b.get("asset_id")}


# --- compiling --------------------------------------------------------------------------

class CompileFailed(ValueError):
    pass


def compile_design(design: dict[str, Any], brand: dict[str, Any] | None = None,
                   assets: dict[int, dict[str, Any]] | None = None) -> str:
    """Responsive email HTML for a validated design: MJML (a 600 px container, columns that
    stack on phones, inline styles) compiled by MRML, the Rust port of MJML."""
    theme = {**brand_of(brand), **design.get("settings", {})}
    context = Compiling(brand=theme, assets=assets or {})
    body, simple = [], []

    def flush() -> None:
        if simple:
            body.append(f'<mj-section background-color="{theme["content_background"]}" padding="8px 0">'
                        f'<mj-column>{"".join(simple)}</mj-column></mj-section>')
            simple.clear()

    for block in design.get("blocks", []):
        if block["type"] == "columns":
            flush()
            body.append(_columns_section(block, context))
        else:
            simple.append(BLOCK_TYPES[block["type"]].mjml(block, context))
    flush()
    source = (
        "<mjml><mj-head><mj-attributes>"
        f'<mj-all font-family="{_font(theme["font_family"])}" />'
        f'<mj-text color="{theme["text_color"]}" font-size="16px" line-height="1.5" padding="8px 24px" />'
        '<mj-image padding="8px 24px" /><mj-button padding="12px 24px" />'
        "</mj-attributes>"
        f'<mj-style>a {{ color: {theme["link_color"]}; }} p {{ margin: 0 0 12px; }}</mj-style>'
        f'</mj-head><mj-body background-color="{theme["background_color"]}" width="600px">'
        f'{"".join(body) or EMPTY_BODY}'
        "</mj-body></mjml>")
    try:
        return mrml.to_html(source).content
    except Exception as exc:  # MRML raises OSError (or others) with a parser message
        raise CompileFailed(f"the design could not be compiled: {exc}") from None


def _columns_section(block: dict[str, Any], context: Compiling) -> str:
    share = 100 // len(block["columns"])
    inner = Compiling(brand=context.brand, assets=context.assets, width=600 // len(block["columns"]))
    columns = "".join(
        f'<mj-column width="{share}%">{"".join(BLOCK_TYPES[b["type"]].mjml(b, inner) for b in column)}</mj-column>'
        for column in block["columns"])
    return (f'<mj-section background-color="{context.brand["content_background"]}" padding="8px 0">'
            f"{columns}</mj-section>")


def _font(stack: str) -> str:
    return stack.replace('"', "'")
