"""The block types of the email builder, each defined once: its fields (which the side
panel, validation and the schema for the front end read) and the MJML it compiles to."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from webapp.mail.design.fields import Field, attribute, text_html

ALIGN = (("left", "Left"), ("center", "Centre"), ("right", "Right"))
NETWORKS = ("facebook", "instagram", "x", "tiktok", "youtube", "spotify", "website")
NETWORK_LABELS = {"facebook": "Facebook", "instagram": "Instagram", "x": "X", "tiktok": "TikTok",
                  "youtube": "YouTube", "spotify": "Spotify", "website": "Website"}
HEADING_SIZES = {1: 28, 2: 22, 3: 18}


@dataclass(frozen=True)
class Compiling:
    """What every block compiles against: the brand kit (with the design's own settings
    over it) and the uploaded images the design uses, {id: {"url", "width", "height"}}."""

    brand: dict[str, Any]
    assets: dict[int, dict[str, Any]]
    width: int = 600


@dataclass(frozen=True)
class BlockType:
    type: str
    label: str
    icon: str
    fields: tuple[Field, ...]
    mjml: Callable[[dict[str, Any], Compiling], str]
    container: bool = False

    def defaults(self) -> dict[str, Any]:
        return {f.name: f.default for f in self.fields if f.default is not None}

    def schema(self) -> dict[str, Any]:
        return {"type": self.type, "label": self.label, "icon": self.icon, "container": self.container,
                "defaults": {"type": self.type, **self.defaults()}, "fields": [f.schema() for f in self.fields]}


def _heading(block: dict, c: Compiling) -> str:
    size = HEADING_SIZES[block["level"]]
    color = block.get("color") or c.brand["text_color"]
    return (f'<mj-text align="{block["align"]}" color="{color}" font-size="{size}px" line-height="1.25" '
            f'font-weight="700"><h{block["level"]} style="margin:0;font-size:{size}px;line-height:1.25">'
            f'{text_html(block["text"])}</h{block["level"]}></mj-text>')


def _text(block: dict, c: Compiling) -> str:
    return f'<mj-text align="{block["align"]}">{block["html"] or "&nbsp;"}</mj-text>'


def _button(block: dict, c: Compiling) -> str:
    background = block.get("color") or c.brand["primary_color"]
    color = block.get("text_color") or c.brand["button_text_color"]
    width = ' width="100%"' if block.get("full_width") else ""
    return (f'<mj-button href="{attribute(block["url"] or "#")}" align="{block["align"]}" '
            f'background-color="{background}" color="{color}" border-radius="{c.brand["button_radius"]}px" '
            f'font-size="16px" font-weight="600" inner-padding="12px 24px"{width}>'
            f'{text_html(block["text"])}</mj-button>')


def _image(block: dict, c: Compiling) -> str:
    asset = c.assets.get(block.get("asset_id") or 0)
    src = asset["url"] if asset else block.get("src")
    if not src:
        return ""  # an image not chosen yet: nothing in the email (the pre-send checklist says so)
    natural = asset["width"] if asset else c.width
    width = min(block.get("width") or natural, natural, c.width)
    link = f' href="{attribute(block["url"])}"' if block.get("url") else ""
    return (f'<mj-image src="{attribute(src)}" alt="{attribute(block.get("alt") or "")}" width="{width}px" '
            f'align="{block["align"]}"{link} />')


def _divider(block: dict, c: Compiling) -> str:
    return (f'<mj-divider border-color="{block["color"]}" border-width="{block["thickness"]}px" '
            f'padding="12px 24px" />')


def _spacer(block: dict, c: Compiling) -> str:
    return f'<mj-spacer height="{block["height"]}px" />'


def _social(block: dict, c: Compiling) -> str:
    # Text links, not icon images: nothing loads from a third party and nothing is lost
    # when a client blocks images.
    links = " &nbsp;·&nbsp; ".join(
        f'<a href="{attribute(link["url"])}" style="color:{c.brand["link_color"]};text-decoration:none">'
        f'{NETWORK_LABELS[link["network"]]}</a>' for link in block["links"])
    return f'<mj-text align="{block["align"]}" font-size="14px">{links or "&nbsp;"}</mj-text>'


def _event(block: dict, c: Compiling) -> str:
    """The event card: filled at send time from the recipient's purchases (or the named
    event), and left out for a recipient with no such event."""
    which = block["event"]
    source = "next_event" if which == "next" else f"events[{json.dumps(which['id'])}]"
    image = ('{% if ev.image_url %}<img src="{{ ev.image_url }}" alt="{{ ev.name }}" width="100%" '
             'style="display:block;width:100%;max-width:100%;height:auto;border-radius:6px;margin-bottom:12px">'
             '{% endif %}') if block["show_image"] else ""
    button = (f'{{% if ev.url %}}<p style="margin:16px 0 0"><a href="{{{{ ev.url }}}}" style="display:inline-block;'
              f'background:{c.brand["primary_color"]};color:{c.brand["button_text_color"]};padding:12px 24px;'
              f'border-radius:{c.brand["button_radius"]}px;text-decoration:none;font-weight:600">'
              f'{text_html(block["button_text"])}</a></p>{{% endif %}}')
    return (f'<mj-raw>{{% set ev = {source} %}}{{% if ev %}}</mj-raw>'
            f'<mj-text>{image}<p style="margin:0;font-size:20px;font-weight:700">{{{{ ev.name }}}}</p>'
            f'<p style="margin:4px 0 0">{{{{ ev.when }}}}{{% if ev.venue %}} · {{{{ ev.venue }}}}{{% endif %}}</p>'
            f'{button}</mj-text><mj-raw>{{% endif %}}</mj-raw>')


def _footer(block: dict, c: Compiling) -> str:
    extra = f"{text_html(block['text'])}<br>" if block.get("text") else ""
    address = ("{% if tenant.postal_address %}{{ tenant.postal_address }}<br>{% endif %}"
               if block["show_address"] else "")
    links = '<a href="{{ unsubscribe_url }}" style="color:inherit">Unsubscribe</a>'
    if block["show_view_in_browser"]:
        links += ' · <a href="{{ view_in_browser_url }}" style="color:inherit">View in your browser</a>'
    return (f'<mj-text align="center" font-size="12px" color="#6b7385" line-height="1.6">'
            f"{extra}{address}{links}</mj-text>")


def _columns(block: dict, c: Compiling) -> str:
    raise AssertionError("columns are sections: the compiler lays them out")


_ALIGN_FIELD = Field("align", "Alignment", "select", default="left", options=ALIGN)

BLOCK_TYPES: dict[str, BlockType] = {b.type: b for b in (
    BlockType("heading", "Heading", "H", (
        Field("text", "Text", "text", default="Your heading", required=True, max_length=300),
        Field("level", "Size", "select", default=1, options=((1, "Large"), (2, "Medium"), (3, "Small"))),
        _ALIGN_FIELD, Field("color", "Colour", "color", hint="Empty: the brand's text colour")), _heading),
    BlockType("text", "Text", "¶", (
        Field("html", "Text", "richtext", default="<p>Write something your fans will want to read.</p>"),
        _ALIGN_FIELD), _text),
    BlockType("button", "Button", "▭", (
        Field("text", "Label", "text", default="Get tickets", required=True, max_length=100),
        Field("url", "Link", "url", default=""),
        Field("align", "Alignment", "select", default="center", options=ALIGN),
        Field("color", "Button colour", "color", hint="Empty: the brand's primary colour"),
        Field("text_color", "Label colour", "color"),
        Field("full_width", "Full width", "checkbox", default=False)), _button),
    BlockType("image", "Image", "▣", (
        Field("asset_id", "Image", "asset"),
        Field("src", "Or an image address", "url"),
        Field("alt", "Alt text", "text", default="", max_length=300,
              hint="Describes the image for people who cannot see it"),
        Field("url", "Link", "url"),
        Field("width", "Width (px)", "number", min=20, max=600),
        Field("align", "Alignment", "select", default="center", options=ALIGN)), _image),
    BlockType("divider", "Divider", "—", (
        Field("color", "Colour", "color", default="#e3e6ee"),
        Field("thickness", "Thickness (px)", "number", default=1, min=1, max=10)), _divider),
    BlockType("spacer", "Spacer", "↕", (
        Field("height", "Height (px)", "number", default=24, min=4, max=200),), _spacer),
    BlockType("columns", "Columns", "▥", (
        Field("columns", "Columns", "columns", default=None),), _columns, container=True),
    BlockType("social", "Social links", "@", (
        Field("links", "Links", "links", default=[], extra={"networks": list(NETWORKS)}),
        Field("align", "Alignment", "select", default="center", options=ALIGN)), _social),
    BlockType("event", "Event card", "★", (
        Field("event", "Event", "event", default="next",
              hint="The customer's next event from their purchases, or one event by its id"),
        Field("show_image", "Show the event's image", "checkbox", default=True),
        Field("button_text", "Button label", "text", default="Get tickets", max_length=100)),
        _event),
    BlockType("footer", "Footer", "⎁", (
        Field("text", "Extra line", "text", default="", max_length=1000),
        Field("show_address", "Show the postal address", "checkbox", default=True),
        Field("show_view_in_browser", "Show “View in your browser”", "checkbox", default=True)), _footer),
)}
