"""Templates, saved blocks and the brand kit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from webapp.api.schemas.common import PageQuery, StrictModel

TemplateName = Annotated[str, Field(min_length=1, max_length=200)]
TemplateLine = Annotated[str, Field(max_length=300)]
DesignDoc = Annotated[dict[str, Any], Field(
    description='The block JSON: {"version": 1, "settings"?: {...}, "blocks": [...]}; an invalid one is a '
                "422 naming the path, e.g. design.blocks[3].url.")]
HtmlContent = Annotated[str, Field(min_length=1, max_length=500_000, description="HTML; Jinja personalisation")]
TemplateId = Annotated[int | str, Field(description='An integer (your template) or "starter:<key>" (a starter).')]


class TemplateIn(StrictModel):
    name: TemplateName
    design: DesignDoc | None = None
    content: HtmlContent | None = None
    subject: TemplateLine | None = None
    preheader: TemplateLine | None = None


class TemplatePatch(StrictModel):
    name: TemplateName | None = None
    design: DesignDoc | None = None
    content: HtmlContent | None = None
    subject: TemplateLine | None = None
    preheader: TemplateLine | None = None


class TemplateOut(BaseModel):
    id: int | str = Field(description='An integer for your templates, "starter:<key>" for a starter.')
    name: str
    starter: bool
    description: str | None
    subject: str | None
    preheader: str | None
    design: dict[str, Any] | None
    content: str = Field(description="The HTML (a design's, compiled with your brand kit).")
    created_at: datetime | None
    updated_at: datetime | None


class TemplatePage(BaseModel):
    data: list[TemplateOut]
    next_cursor: str | None


class TemplateListQuery(PageQuery):
    pass


Colour = Annotated[str, Field(max_length=7, description="#rrggbb")]


class BrandPatch(StrictModel):
    logo_asset_id: int | None = Field(default=None, description="One of your images (GET /assets); null: no logo.")
    primary_color: Colour | None = None
    text_color: Colour | None = None
    background_color: Colour | None = None
    content_background: Colour | None = None
    button_text_color: Colour | None = None
    link_color: Colour | None = Field(default=None, description="Follows primary_color until set.")
    font_family: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="One of the email-safe stacks GET /brand lists in font_stacks.")
    button_radius: Annotated[int, Field(ge=0, le=40)] | None = None
    footer_text: Annotated[str, Field(max_length=500)] | None = None


class BrandOut(BaseModel):
    logo_asset_id: int | None
    logo_url: str | None
    primary_color: str
    text_color: str
    background_color: str
    content_background: str
    button_text_color: str
    link_color: str
    font_family: str
    button_radius: int
    footer_text: str
    font_stacks: list[str] = Field(description="The font stacks font_family may take.")
