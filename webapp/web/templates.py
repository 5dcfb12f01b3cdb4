"""Email templates: the gallery (starters, the tenant's templates, saved blocks), starting a
campaign from one, saving a campaign as one, and the builder's saved blocks."""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from webapp.infra.errors import ValidationFailed
from webapp.services import campaigns, templates
from webapp.web.access import write_required
from webapp.web.forms import TemplateNameForm, decode_json_field

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
                           blocks=templates.saved_blocks(tenant_id), block_types=BLOCK_TYPES,
                           rename_form=TemplateNameForm(formdata=None))


@bp.get("/<template_id>/preview")
@login_required
def preview(template_id: str):
    """The template as a nameless sample customer would get it, for the gallery's thumbnails."""
    tenant_id = current_user.tenant_id
    template = templates.get_template(tenant_id, template_id)  # another tenant's: a 404
    try:
        content = {"design": template.design} if template.design is not None else {"html_content": template.html}
        html = campaigns.preview_content(tenant_id, {"subject": template.subject or template.name, **content})["html"]
    except ValidationFailed as exc:
        html = f"<p style='font-family:sans-serif;color:#b42318'>This template cannot be shown: {exc.reason}</p>"
        html = html.replace("{", "&#123;")  # the reason is text, shown as such
    response = make_response(html)
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.post("/<template_id>/use")
@login_required
@write_required
def use(template_id: str) -> ResponseReturnValue:
    """A draft campaign from the template, opened in the editor."""
    try:
        campaign = templates.create_campaign_from_template(current_user.tenant_id, template_id)
    except ValidationFailed as exc:
        flash(f"The campaign could not be made from this template: {exc.reason}", "error")
        return redirect(url_for("email_templates.index"))
    flash("Draft created from the template. Choose who receives it, then make it yours.", "success")
    return redirect(url_for("campaigns.edit", campaign_id=campaign.id))


@bp.post("/<int:template_id>/rename")
@login_required
@write_required
def rename(template_id: int) -> ResponseReturnValue:
    form = TemplateNameForm()
    template = templates.get_template(current_user.tenant_id, template_id)  # another tenant's: a 404
    if form.validate_on_submit():
        try:
            templates.update_template(current_user.tenant_id, template_id, {"name": form.name.data})
        except ValidationFailed as exc:
            flash(f"Not renamed: {exc.reason}", "error")
        else:
            flash(f"“{template.name}” renamed to “{form.name.data.strip()}”.", "success")
    else:
        flash("Not renamed: " + " ".join(form.name.errors or ["give the template a name"]), "error")
    return redirect(url_for("email_templates.index", _anchor="your-templates"))


@bp.post("/<int:template_id>/delete")
@login_required
@write_required
def delete(template_id: str) -> ResponseReturnValue:
    template = templates.get_template(current_user.tenant_id, template_id)  # another tenant's: a 404
    templates.delete_template(current_user.tenant_id, template_id)
    flash(f"Template “{template.name}” deleted. Campaigns made from it keep their content.", "success")
    return redirect(url_for("email_templates.index", _anchor="your-templates"))


@bp.post("/from-campaign/<int:campaign_id>")
@login_required
@write_required
def save_campaign(campaign_id: int) -> ResponseReturnValue:
    """"Save as template" on a campaign's page."""
    campaign = campaigns.get_campaign(current_user.tenant_id, campaign_id)  # another tenant's: a 404
    form = TemplateNameForm()
    if not form.validate_on_submit():
        flash("Not saved as a template: " + " ".join(form.name.errors or ["give it a name"]), "error")
        return redirect(url_for("campaigns.show", campaign_id=campaign.id))
    try:
        template = templates.save_campaign_as_template(current_user.tenant_id, campaign.id, form.name.data)
    except ValidationFailed as exc:
        flash(f"Not saved as a template: {exc.reason}", "error")
        return redirect(url_for("campaigns.show", campaign_id=campaign.id))
    flash(f"Saved as the template “{template.name}”. Start new campaigns from it here.", "success")
    return redirect(url_for("email_templates.index", _anchor="your-templates"))


# --- saved blocks (the builder posts JSON; the gallery lists and deletes) ---------------------

@bp.post("/blocks")
@login_required
@write_required
def save_block() -> ResponseReturnValue:
    try:
        # Read as a JSON form field is: bounded nesting, nothing the database cannot store.
        payload = decode_json_field(request.get_data(as_text=True), "body", default="null")
        if not isinstance(payload, dict):
            raise ValidationFailed("body", "send {name, block} as a JSON object")
        saved = templates.save_block(current_user.tenant_id, payload.get("name"), payload.get("block"))
    except ValidationFailed as exc:
        return jsonify({"error": {"field": exc.field, "message": exc.reason}}), 422
    return jsonify(saved), 201


@bp.post("/blocks/<int:block_id>/delete")
@login_required
@write_required
def delete_block(block_id: int) -> ResponseReturnValue:
    templates.delete_block(current_user.tenant_id, block_id)  # another tenant's: a 404
    flash("Saved block deleted. Emails that already use it keep their copy.", "success")
    return redirect(url_for("email_templates.index", _anchor="saved-blocks"))
