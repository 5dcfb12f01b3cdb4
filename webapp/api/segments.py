"""Segments over JSON."""

from __future__ import annotations

from flask import jsonify

from webapp.api.auth import current_tenant_id
from webapp.api.blueprint import bp
from webapp.api.registry import api_route
from webapp.api.schemas import (
    CalculationOut,
    CustomerPage,
    PageQuery,
    PreviewIn,
    PreviewOut,
    SegmentIn,
    SegmentOut,
    SegmentPage,
    SegmentPatch,
)
from webapp.api.serializers import customer_dicts, customer_page, segment_dict
from webapp.services import segments


@api_route(bp, "/segments", "POST", summary="Create a segment (calculated at once)", tag="segments",
           body=SegmentIn, response=SegmentOut, status=201, errors=(422,),
           description="Invalid conditions get a 422 naming the item, e.g. conditions[1].operator.")
def create_segment(body: SegmentIn):
    segment = segments.create_segment(current_tenant_id(), body.name, body.conditions, body.match,
                                      body.description)
    return jsonify(segment_dict(segment)), 201


@api_route(bp, "/segments", "GET", summary="List segments with member counts", tag="segments",
           query=PageQuery, response=SegmentPage)
def list_segments(query: PageQuery):
    page = segments.segments_page(current_tenant_id(), limit=query.limit, cursor=query.cursor)
    return jsonify({"data": [segment_dict(s) for s in page.items], "next_cursor": page.next_cursor})


@api_route(bp, "/segments/preview", "POST", summary="Count and sample a definition without saving",
           tag="segments", body=PreviewIn, response=PreviewOut, errors=(422,))
def preview_segment(body: PreviewIn):
    result = segments.preview(current_tenant_id(), body.conditions, body.match)
    return jsonify({"count": result["count"], "sample": customer_dicts(current_tenant_id(), result["sample"])})


@api_route(bp, "/segments/<int:segment_id>", "GET", summary="Get a segment", tag="segments",
           response=SegmentOut, errors=(404,))
def get_segment(segment_id: int):
    return jsonify(segment_dict(segments.get_segment(current_tenant_id(), segment_id)))


@api_route(bp, "/segments/<int:segment_id>", "PATCH", summary="Update a segment (a new definition recalculates)",
           tag="segments", body=SegmentPatch, response=SegmentOut, errors=(404, 422))
def patch_segment(segment_id: int, body: SegmentPatch):
    segment = segments.update_segment(current_tenant_id(), segment_id, body.model_dump(exclude_unset=True))
    return jsonify(segment_dict(segment))


@api_route(bp, "/segments/<int:segment_id>", "DELETE", summary="Delete a segment", tag="segments",
           status=204, errors=(404,))
def delete_segment(segment_id: int):
    segments.delete_segment(current_tenant_id(), segment_id)
    return "", 204


@api_route(bp, "/segments/<int:segment_id>/calculate", "POST", summary="Recalculate members from scratch",
           tag="segments", response=CalculationOut, errors=(404,))
def calculate_segment(segment_id: int):
    return jsonify(segments.calculate_segment(current_tenant_id(), segment_id).as_dict())


@api_route(bp, "/segments/<int:segment_id>/members", "GET", summary="A segment's members", tag="segments",
           query=PageQuery, response=CustomerPage, errors=(404,))
def segment_members(segment_id: int, query: PageQuery):
    page = segments.members_page(current_tenant_id(), segment_id, limit=query.limit, cursor=query.cursor)
    return jsonify(customer_page(current_tenant_id(), page))
