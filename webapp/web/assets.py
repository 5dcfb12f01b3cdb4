"""The image library for marketers (upload, browse, delete; the builder's picker) and the
public address emails load images from."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import wrap_file
from wtforms import StringField
from wtforms.validators import Length, Optional

from webapp.infra.errors import ValidationFailed
from webapp.models import EmailAsset
from webapp.services import assets
from webapp.web.access import write_required
from webapp.web.forms import Form, apply_domain_error

bp = Blueprint("assets", __name__)

PAGE_SIZE = 60
PICKER_SIZE = 200
# Each URL names one immutable file (a new upload gets a new token): caches may keep it for good.
CACHE_FOREVER = "public, max-age=31536000, immutable"


class AssetUploadForm(Form):
    file = FileField("Image", validators=[FileRequired(message="Choose an image to upload.")],
                     render_kw={"accept": "image/png,image/jpeg,image/gif,image/webp"})
    alt = StringField("Alt text (optional)", validators=[Optional(), Length(max=assets.MAX_ALT)],
                      description="What the image shows, for people who cannot see it; "
                                  "image blocks start with this text.")


def _wants_json() -> bool:
    """The builder uploads with fetch and asks for JSON; the library page posts a form."""
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def _limits() -> str:
    config = current_app.config
    return (f"PNG, JPEG, GIF or WebP; up to {config['ASSET_MAX_BYTES'] / (1024 * 1024):.3g} MB and "
            f"{config['ASSET_MAX_SIDE']} pixels on a side.")


def picker_json(asset: EmailAsset) -> dict:
    return {"id": asset.id, "url": assets.asset_url(asset), "width": asset.width, "height": asset.height,
            "filename": asset.filename, "alt": asset.alt}


def _page(form: AssetUploadForm | None = None, status: int = 200):
    cursor = request.args.get("cursor") or None
    try:
        page = assets.assets_page(current_user.tenant_id, limit=PAGE_SIZE, cursor=cursor)
    except ValidationFailed:  # a cursor that was not ours: the first page
        cursor, page = None, assets.assets_page(current_user.tenant_id, limit=PAGE_SIZE)
    form = form or AssetUploadForm(formdata=None)
    form.file.description = _limits()
    return render_template("assets/index.html", form=form, page=page, cursor=cursor,
                           url_of=assets.asset_url), status


@bp.get("/assets/")
@login_required
def index():
    return _page()


@bp.get("/assets/picker")
@login_required
def picker():
    page = assets.assets_page(current_user.tenant_id, limit=PICKER_SIZE)
    return jsonify({"data": [picker_json(a) for a in page.items]})


def _refused(form: AssetUploadForm):
    """The form again with the message beside its field, or the first one as JSON to fetch."""
    if _wants_json():
        field, messages = next(iter(form.errors.items()))
        return jsonify({"error": {"field": field, "message": messages[0]}}), 422
    return _page(form, status=422)


@bp.post("/assets")
@login_required
@write_required
def upload():
    form = AssetUploadForm()
    if not form.validate_on_submit():
        return _refused(form)
    upload_file = form.file.data
    try:
        asset = assets.upload_asset(current_user.tenant_id, upload_file.filename,
                                    upload_file.read(current_app.config["ASSET_MAX_BYTES"] + 1),
                                    alt=form.alt.data)
    except ValidationFailed as exc:
        apply_domain_error(form, exc.field, exc.reason)
        return _refused(form)
    if _wants_json():
        return jsonify(picker_json(asset)), 201
    flash(f"Uploaded {asset.filename} ({asset.width}×{asset.height}).", "success")
    return redirect(url_for("assets.index"))


@bp.post("/assets/<int:asset_id>/delete")
@login_required
@write_required
def delete(asset_id: int):
    asset = assets.get_asset(current_user.tenant_id, asset_id)
    filename = asset.filename
    assets.delete_asset(current_user.tenant_id, asset_id)
    if _wants_json():
        return "", 204
    flash(f"Deleted {filename}.", "success")
    return redirect(url_for("assets.index"))


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge):
    # The body is refused before it is read (and before the CSRF check reads the form).
    message = f"is larger than {current_app.config['ASSET_MAX_BYTES'] / (1024 * 1024):.3g} MB"
    if _wants_json():
        return jsonify({"error": {"field": "file", "message": message}}), 413
    flash(f"That image {message}: make it smaller and upload it again.", "error")
    return redirect(url_for("assets.index"))


@bp.errorhandler(CSRFError)
def _csrf_refused(exc: CSRFError):
    # The app's own words for a page (the same as every other form's), JSON for the builder.
    message = "Your form expired or was not sent from this site. Reload the page and try again."
    if _wants_json():
        return jsonify({"error": {"field": "csrf_token", "message": message}}), 400
    return render_template("errors/error.html", status=400, message=message), 400


# --- the public address ----------------------------------------------------------------------

@bp.get("/a/<token>/<filename>")
def serve(token: str, filename: str):
    """The image for emails and the builder: no sign-in, found by its random token alone (the
    file name must match too). S3-stored images are streamed through the app rather than
    redirected to a presigned URL: one URL shape for both stores, and an email keeps working
    years after it was sent (presigned URLs expire within days)."""
    asset = assets.public_asset(token, filename)
    if asset is None:
        abort(404)
    response = Response(status=304) if asset.token in request.if_none_match else None
    if response is None:
        stream = assets.open_asset(asset)
        if stream is None:
            abort(404)
        response = Response(wrap_file(request.environ, stream), direct_passthrough=True)
        response.content_length = asset.size_bytes
    # Only ever one of the four image types, whatever the name or the bytes: never a page.
    response.headers["Content-Type"] = asset.content_type
    response.headers.set("Content-Disposition", "inline", filename=asset.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    response.headers["Cache-Control"] = CACHE_FOREVER
    response.set_etag(asset.token)
    return response
