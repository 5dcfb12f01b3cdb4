"""Templates and the brand kit over JSON."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from webapp.api.audit_trail import note
from webapp.api.auth import current_tenant_id
from webapp.api.blueprint import bp
from webapp.api.registry import api_route
from webapp.api.schemas.templates import (
    BrandOut,
    BrandPatch,
    TemplateIn,
    TemplateListQuery,
    TemplateOut,
    TemplatePage,
    TemplatePatch,
)
from webapp.infra.types import iso_or_none
from webapp.services import audit, brand, templates


def template_dict(view: templates.TemplateView) -> dict[str, Any]:
    return {"id": view.id, "name": view.name, "starter": view.starter, "description": view.description or None,
            "subject": view.subject, "preheader": view.preheader, "design": view.design, "content": view.html,
            "created_at": iso_or_none(view.created_at), "updated_at": iso_or_none(view.updated_at)}


def brand_dict(kit: dict[str, Any]) -> dict[str, Any]:
    out = {field: kit.get(field) for field in BrandOut.model_fields if field != "font_stacks"}
    return {**out, "font_stacks": [stack for stack, _ in brand.FONT_STACKS]}


@api_route(bp, "/templates", "GET", summary="List templates: the starters, then yours (newest first)",
           tag="templates", query=TemplateListQuery, response=TemplatePage,
           description='The first page starts with the starter templates ("starter": true, ids like '
                       '"starter:on-sale"), which limit does not count.')
def list_templates(query: TemplateListQuery):
    page = templates.templates_page(current_tenant_id(), limit=query.limit, cursor=query.cursor)
    return jsonify({"data": [template_dict(v) for v in page.items], "next_cursor": page.next_cursor})


@api_route(bp, "/templates", "POST", summary="Create a template", tag="templates", body=TemplateIn,
           response=TemplateOut, status=201, errors=(409, 422),
           description="Exactly one of design (blocks) or content (HTML).")
def create_template(body: TemplateIn):
    view = templates.create_template(current_tenant_id(), body.model_dump(exclude_unset=True))
    return jsonify(template_dict(view)), 201


@api_route(bp, "/templates/<template_id>", "GET", summary="Get a template (or a starter)", tag="templates",
           response=TemplateOut, errors=(404,))
def get_template(template_id: str):
    return jsonify(template_dict(templates.get_template(current_tenant_id(), template_id)))


@api_route(bp, "/templates/<template_id>", "PATCH", summary="Change a template", tag="templates",
           body=TemplatePatch, response=TemplateOut, errors=(404, 409, 422),
           description="Starters are read-only (409). Giving design or content replaces the other.")
def patch_template(template_id: str, body: TemplatePatch):
    view = templates.update_template(current_tenant_id(), template_id, body.model_dump(exclude_unset=True))
    return jsonify(template_dict(view))


@api_route(bp, "/templates/<template_id>", "DELETE", summary="Delete a template", tag="templates", status=204,
           errors=(404, 409), description="Starters cannot be deleted (409).")
def delete_template(template_id: str):
    templates.delete_template(current_tenant_id(), template_id)
    return "", 204


@api_route(bp, "/brand", "GET", summary="The brand kit new designs take", tag="templates", response=BrandOut)
def get_brand():
    return jsonify(brand_dict(brand.get_brand(current_tenant_id())))


@api_route(bp, "/brand", "PATCH", summary="Change the brand kit", tag="templates", body=BrandPatch,
           response=BrandOut, errors=(422,))
def patch_brand(body: BrandPatch):
    before = audit.tenant_snapshot(current_tenant_id(), only=BRAND_COLUMN)
    kit = brand.update_brand(current_tenant_id(), body.model_dump(exclude_unset=True))
    changes = audit.diff(before, audit.tenant_snapshot(current_tenant_id(), only=BRAND_COLUMN))
    if changes:
        note("brand.changed", changes=changes)
    return jsonify(brand_dict(kit))


BRAND_COLUMN = frozenset({"brand"})
