"""Uploaded images (the email builder's asset library) over HTTP."""

from __future__ import annotations

from flask import current_app, jsonify, request

from webapp.api.auth import current_tenant_id
from webapp.api.blueprint import bp
from webapp.api.errors import ApiError
from webapp.api.registry import api_route
from webapp.api.schemas import AssetListQuery, AssetOut, AssetPage, AssetUpload
from webapp.infra.types import iso_or_none
from webapp.models import EmailAsset
from webapp.services import assets


def asset_json(asset: EmailAsset) -> dict:
    return {"id": asset.id, "url": assets.asset_url(asset), "width": asset.width, "height": asset.height,
            "filename": asset.filename, "content_type": asset.content_type, "size_bytes": asset.size_bytes,
            "alt": asset.alt, "created_at": iso_or_none(asset.created_at)}


@api_route(bp, "/assets", "POST", summary="Upload an image", tag="assets", form=AssetUpload, response=AssetOut,
           status=201, errors=(422,),
           description="multipart/form-data with the image in `file`. Anything that is not a PNG, JPEG, GIF or "
                       "WebP image within the limits is a 422 naming `file`; a body far over the size limit is "
                       "a 413. Image blocks of designs refer to the returned id (`asset_id`).")
def upload_asset():
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(422, "validation_error", "file: an image file is required",
                       [{"field": "file", "message": "an image file is required"}])
    # One byte past the limit is enough to say the file is too large.
    data = upload.read(current_app.config["ASSET_MAX_BYTES"] + 1)
    asset = assets.upload_asset(current_tenant_id(), upload.filename, data, alt=request.form.get("alt"))
    return jsonify(asset_json(asset)), 201


@api_route(bp, "/assets", "GET", summary="List images", tag="assets", query=AssetListQuery, response=AssetPage)
def list_assets(query: AssetListQuery):
    page = assets.assets_page(current_tenant_id(), limit=query.limit, cursor=query.cursor)
    return jsonify({"data": [asset_json(a) for a in page.items], "next_cursor": page.next_cursor})


@api_route(bp, "/assets/<int:asset_id>", "GET", summary="Get an image's details", tag="assets",
           response=AssetOut, errors=(404,))
def get_asset(asset_id: int):
    return jsonify(asset_json(assets.get_asset(current_tenant_id(), asset_id)))


@api_route(bp, "/assets/<int:asset_id>", "DELETE", summary="Delete an image", tag="assets", status=204,
           errors=(404,), description="Emails already sent that show the image will show it no more.")
def delete_asset(asset_id: int):
    assets.delete_asset(current_tenant_id(), asset_id)
    return "", 204
