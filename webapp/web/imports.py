"""Customer CSV import pages: upload, map columns with a live preview, progress, summary."""

from __future__ import annotations

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp.downloads import csv_response
from webapp.infra.errors import Conflict, ValidationFailed
from webapp.services import exports, imports
from webapp.services.audit import Target
from webapp.web.access import write_required
from webapp.web.audit import note
from webapp.web.forms import ImportUploadForm, apply_domain_error

bp = Blueprint("imports", __name__, url_prefix="/customers")


@bp.route("/import", methods=["GET", "POST"])
@login_required
@write_required
def new():
    form = ImportUploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            customer_import = imports.create_import(current_user.tenant_id, upload.filename or "customers.csv",
                                                    upload.read(), created_by=current_user.email)
        except ValidationFailed as exc:
            apply_domain_error(form, "file", exc.reason)
        else:
            return redirect(url_for("imports.show", import_id=customer_import.id))
    recent = imports.imports_page(current_user.tenant_id, limit=10)
    return render_template("imports/new.html", form=form, recent=recent.items), 422 if form.errors else 200


def _targets_from_form(columns: list[str]) -> list[str]:
    return [request.form.get(f"map-{i}", "ignore") for i in range(len(columns))]


def _mapping_context(customer_import, targets: list[str], error: ValidationFailed | None = None) -> dict:
    rows = [] if error else imports.preview(customer_import, targets)
    column_error = {}
    if error is not None:
        name = error.field.removeprefix("mapping.") if error.field.startswith("mapping.") else None
        column_error[name] = error.reason
    return {"customer_import": customer_import, "targets": targets, "preview_rows": rows,
            "mapping_error": error.reason if error is not None and None in column_error else None,
            "column_error": column_error, "field_targets": imports.FIELD_TARGETS,
            "labels": imports.TARGET_LABELS, "samples": _samples(customer_import)}


def _samples(customer_import) -> list[list[str]]:
    """Up to three example values per column, for the mapping table."""
    _, rows = imports.read_rows(imports.head(customer_import.content))
    samples: list[list[str]] = [[] for _ in customer_import.columns]
    for n, row in enumerate(rows):
        if n >= 3:
            break
        for i, cell in enumerate(row[:len(samples)]):
            if cell.strip():
                samples[i].append(cell.strip()[:60])
    return samples


@bp.get("/imports/<int:import_id>")
@login_required
def show(import_id: int):
    customer_import = imports.get_import(current_user.tenant_id, import_id)
    context = {"customer_import": customer_import}
    if customer_import.status == "uploaded":
        context.update(_mapping_context(customer_import, list(customer_import.mapping)))
    return render_template("imports/show.html", **context)


@bp.post("/imports/<int:import_id>/preview")
@login_required
@write_required
def preview(import_id: int):
    customer_import = imports.get_import(current_user.tenant_id, import_id)
    targets = _targets_from_form(customer_import.columns)
    try:
        imports.check_mapping(customer_import.columns, targets)
    except ValidationFailed as exc:
        context = _mapping_context(customer_import, targets, exc)
    else:
        context = _mapping_context(customer_import, targets)
    return render_template("imports/_preview.html", **context)


@bp.post("/imports/<int:import_id>/start")
@login_required
@write_required
def start(import_id: int):
    customer_import = imports.get_import(current_user.tenant_id, import_id)
    targets = _targets_from_form(customer_import.columns)
    try:
        imports.start_import(current_user.tenant_id, customer_import.id, targets)
    except ValidationFailed as exc:
        return render_template("imports/show.html", **_mapping_context(customer_import, targets, exc)), 422
    except Conflict:
        pass  # started already (a double click): its progress is what to show
    else:
        note("import.started", Target("import", customer_import.id, customer_import.filename))
    return redirect(url_for("imports.show", import_id=customer_import.id))


@bp.get("/imports/<int:import_id>/progress")
@login_required
def progress(import_id: int):
    customer_import = imports.get_import(current_user.tenant_id, import_id)
    # The partial polls itself while the import runs (HTMX), and stops once it is finished.
    response = make_response(render_template("imports/_progress.html", customer_import=customer_import))
    response.headers["Vary"] = "HX-Request"
    return response


@bp.get("/imports/<int:import_id>/rejected.csv")
@login_required
def rejected_csv(import_id: int):
    header, rows = imports.rejected_rows(current_user.tenant_id, import_id)
    return csv_response(f"import-{import_id}-rejected.csv", exports.csv_stream(header, rows))
