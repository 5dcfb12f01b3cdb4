"""Email templates: the gallery (starters, the tenant's templates, saved blocks), starting a
campaign from one, saving a campaign as one, and the builder's saved blocks."""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from webapp.infra.errors import ValidationFailed
from webapp.services import campaigns, templates
from webapp.services.templates import starters
from webapp.web.access import write_required
from webapp.web.forms import StorableValues, TemplateNameForm, apply_domain_error, decode_json_field

bp = Blueprint("email_templates", __name__, url_prefix="/templates")

# The sandboxed iframe's document: marketer HTML, never scripts, never our origin (the
# header holds even when the address is opened directly, outside the iframe).
PREVIEW_POLICY = ("sandbox; default-src 'none'; img-src * data:; style-src 'unsafe-inline'; font-src *; "
                  "frame-ancestors 'self'")
BLOCK_TYPES = {"heading": "Heading", "text": "Text", "button": "Button", "image": "Image", "divider": "Divider",
               "spacer": "Spacer", "columns": "Columns", "social": "Social links", "event": "Event card",
               "footer": "Footer"}


@bp.get("/")
@login_required
def index():
    tenant_id = current_user.tenant_id
    page = templates.templates_page(tenant_id, limit=200, include_starters=False)
    return render_template("email_templates/index.html", starters=templates.starter_templates(tenant_id),
                           own=page.items, more=page.next_cursor is not None,
                           blocks=templates.saved_blocks(tenant_id), block_types=BLOCK_TYPES)


def _preview_response(template: templates.TemplateView):
    """The template as a nameless sample customer would get it, for the gallery's thumbnails."""
    content = {"design": template.design} if template.design is not None else {"html_content": template.html}
    try:
        html = campaigns.preview_content(current_user.tenant_id, {"subject": template.subject or template.name,
                                                                  **content})["html"]
    except ValidationFailed as exc:
        html = str(render_template("email_templates/_unpreviewable.html", reason=exc.reason))
    response = make_response(html)
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.get("/<int:template_id>/preview")
@login_required
def preview(template_id: int):
    return _preview_response(templates.get_template(current_user.tenant_id, template_id))  # another tenant's: 404


@bp.get("/starter-preview")
@login_required
def starter_preview():
    """A starter by its key (?key=on-sale): starters are files, not rows, so not in the path."""
    key = request.args.get("key", "")[:100]
    return _preview_response(templates.get_template(current_user.tenant_id, starters.PREFIX + key))


def _use(template_id: int | str) -> ResponseReturnValue:
    try:
        campaign = templates.create_campaign_from_template(current_user.tenant_id, template_id)
    except ValidationFailed as exc:
        flash(f"The campaign could not be made from this template: {exc.reason}", "error")
        return redirect(url_for("email_templates.index"))
    flash("Draft created from the template. Choose who receives it, then make it yours.", "success")
    return redirect(url_for("campaigns.edit", campaign_id=campaign.id))


@bp.post("/<int:template_id>/use")
@login_required
@write_required
def use(template_id: int) -> ResponseReturnValue:
    """A draft campaign from one of the tenant's templates, opened in the editor."""
    templates.get_template(current_user.tenant_id, template_id)  # another tenant's: a 404
    return _use(template_id)


@bp.post("/use-starter")
@login_required
@write_required
def use_starter() -> ResponseReturnValue:
    """A draft campaign from a starter (the form's `starter` key), opened in the editor."""
    key = StorableValues(request.form).get("starter", "")
    if not isinstance(key, str) or starters.starter_key(starters.PREFIX + key) is None:
        flash("Choose one of the starter templates.", "error")
        return redirect(url_for("email_templates.index"))
    return _use(starters.PREFIX + key)


@bp.route("/<int:template_id>/rename", methods=["GET", "POST"])
@login_required
@write_required
def rename(template_id: int) -> ResponseReturnValue:
    template = templates.get_template(current_user.tenant_id, template_id)  # another tenant's: a 404
    form = TemplateNameForm(data={"name": template.name})
    if form.validate_on_submit():
        try:
            templates.update_template(current_user.tenant_id, template_id, {"name": form.name.data})
        except ValidationFailed as exc:
            apply_domain_error(form, exc.field, exc.reason)
        else:
            flash(f"“{template.name}” renamed to “{form.name.data.strip()}”.", "success")
            return redirect(url_for("email_templates.index", _anchor="your-templates"))
    return render_template("email_templates/rename.html", form=form, template=template), \
        422 if form.errors else 200


@bp.post("/<int:template_id>/delete")
@login_required
@write_required
def delete(template_id: int) -> ResponseReturnValue:
    template = templates.get_template(current_user.tenant_id, template_id)  # another tenant's: a 404
    templates.delete_template(current_user.tenant_id, template_id)
    flash(f"Template “{template.name}” deleted. Campaigns made from it keep their content.", "success")
    return redirect(url_for("email_templates.index", _anchor="your-templates"))


@bp.route("/from-campaign/<int:campaign_id>", methods=["GET", "POST"])
@login_required
@write_required
def save_campaign(campaign_id: int) -> ResponseReturnValue:
    """"Save as template" on a campaign's page; a refused name comes back on a page of its own."""
    campaign = campaigns.get_campaign(current_user.tenant_id, campaign_id)  # another tenant's: a 404
    form = TemplateNameForm(data={"name": campaign.name})
    if form.validate_on_submit():
        try:
            template = templates.save_campaign_as_template(current_user.tenant_id, campaign.id, form.name.data)
        except ValidationFailed as exc:
            apply_domain_error(form, "name" if exc.field == "name" else exc.field, exc.reason)
        else:
            flash(f"Saved as the template “{template.name}”. Start new campaigns from it here.", "success")
            return redirect(url_for("email_templates.index", _anchor="your-templates"))
    return render_template("email_templates/save_campaign.html", form=form, campaign=campaign), \
        422 if form.errors else 200


# --- saved blocks (the builder posts JSON; the gallery lists and deletes) ---------------------

@bp.post("/blocks")
@login_required
@write_required
def save_block() -> ResponseReturnValue:
    """The builder posts JSON {name, block} (answered 201 with the saved block, or 422 naming
    the field); a plain form post (name, and the block as JSON text) returns to the gallery."""
    as_json = not request.form
    try:
        if as_json:
            # Read as a JSON form field is: bounded nesting, nothing the database cannot store.
            payload = decode_json_field(request.get_data(as_text=True), "body", default="null")
            if not isinstance(payload, dict):
                raise ValidationFailed("body", "send {name, block} as a JSON object")
        else:
            form = StorableValues(request.form)
            payload = {"name": form.get("name"), "block": decode_json_field(form.get("block"), "block", "null")}
        saved = templates.save_block(current_user.tenant_id, payload.get("name"), payload.get("block"))
    except ValidationFailed as exc:
        if as_json:
            return jsonify({"error": {"field": exc.field, "message": exc.reason}}), 422
        flash(f"The block was not saved: {exc.field}: {exc.reason}", "error")
        return redirect(url_for("email_templates.index", _anchor="saved-blocks"))
    if as_json:
        return jsonify(saved), 201
    flash(f"Block “{saved['name']}” saved.", "success")
    return redirect(url_for("email_templates.index", _anchor="saved-blocks"))


@bp.post("/blocks/<int:block_id>/delete")
@login_required
@write_required
def delete_block(block_id: int) -> ResponseReturnValue:
    templates.delete_block(current_user.tenant_id, block_id)  # another tenant's: a 404
    flash("Saved block deleted. Emails that already use it keep their copy.", "success")
    return redirect(url_for("email_templates.index", _anchor="saved-blocks"))
