"""CSV import of customers and the exports the API offers, over HTTP."""

from __future__ import annotations

import json

from flask import jsonify, request, url_for

from webapp.api.audit_trail import Target, note
from webapp.api.auth import current_tenant_id
from webapp.api.blueprint import bp
from webapp.api.errors import ApiError
from webapp.api.registry import api_route
from webapp.api.schemas import CustomerExportOut, CustomerExportQuery, ImportOut, ImportUpload
from webapp.api.serializers import customer_dict, import_dict, plain
from webapp.downloads import csv_response
from webapp.services import campaigns, customers, exports, imports, segments


def _mapping_field() -> dict | None:
    raw = request.form.get("mapping")
    if raw is None or not raw.strip():
        return None
    try:
        mapping = json.loads(raw)
    except ValueError:
        raise ApiError(422, "validation_error", "mapping: is not valid JSON",
                       [{"field": "mapping", "message": "is not valid JSON"}]) from None
    if not isinstance(mapping, dict):
        raise ApiError(422, "validation_error", "mapping: must be a JSON object of column: target",
                       [{"field": "mapping", "message": "must be a JSON object of column: target"}])
    return mapping


@api_route(bp, "/customers/import", "POST", summary="Import customers from a CSV file", tag="imports",
           form=ImportUpload, response=ImportOut, status=202, errors=(422,),
           description="Stores the file, checks the mapping and queues the import; poll "
                       "GET /imports/{id} for progress and the summary. Rows are upserted like "
                       "POST /customers (by external_id, then email); a bad row is rejected with "
                       "its reason and never stops the rest. Within one file the first row for an "
                       "email or external_id wins; later ones are rejected as duplicates.")
def import_customers():
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(422, "validation_error", "file: a CSV file is required",
                       [{"field": "file", "message": "a CSV file is required"}])
    mapping = _mapping_field()
    customer_import = imports.create_import(current_tenant_id(), upload.filename or "customers.csv",
                                            upload.read(), source="api", start=True, mapping=mapping)
    note("import.started", Target("import", customer_import.id, customer_import.filename))
    return jsonify(import_dict(customer_import, _rejected_url(customer_import.id))), 202


def _rejected_url(import_id: int) -> str:
    return url_for("api.import_rejected_csv", import_id=import_id)


@api_route(bp, "/imports/<int:import_id>", "GET", summary="An import's status, progress and summary",
           tag="imports", response=ImportOut, errors=(404,))
def get_import(import_id: int):
    customer_import = imports.get_import(current_tenant_id(), import_id)
    return jsonify(import_dict(customer_import, _rejected_url(customer_import.id)))


@api_route(bp, "/imports/<int:import_id>/rejected.csv", "GET", summary="An import's rejected rows (CSV)",
           tag="imports", media_type="text/csv", errors=(404,),
           description="Columns: line (in the uploaded file, header = 1), reason, then the row as uploaded.")
def import_rejected_csv(import_id: int):
    header, rows = imports.rejected_rows(current_tenant_id(), import_id)
    return csv_response(f"import-{import_id}-rejected.csv", exports.csv_stream(header, rows))


@api_route(bp, "/customers/<int:customer_id>/export", "GET", summary="Everything stored about a customer",
           tag="customers", response=CustomerExportOut, errors=(404,),
           description="For data-access requests: the profile, every activity, segment memberships "
                       "and the campaign emails sent to the customer, their topics and every consent record.")
def export_customer(customer_id: int):
    tenant_id = current_tenant_id()
    data = exports.customer_data(tenant_id, customer_id)
    customer = customers.get_customer(tenant_id, customer_id)
    data["customer"] = customer_dict(customer)
    note("customers.exported", Target("customer", customer.id, f"everything stored about {customer.email}"))
    return jsonify(plain(data))


@api_route(bp, "/customers/export.csv", "GET", summary="All customers, or a segment's members (CSV)",
           tag="customers", query=CustomerExportQuery, media_type="text/csv", errors=(404,),
           description="Streamed. Columns: " + ", ".join(exports.CUSTOMER_HEADER) + " (tags comma-separated, "
                       "attributes as JSON). Cells a spreadsheet would run as formulas start with a quote.")
def export_customers_csv(query: CustomerExportQuery):
    download = exports.export_customers(current_tenant_id(), query.segment_id)
    if query.segment_id is None:
        note("customers.exported", Target("customers", None, "all customers"))
    else:
        segment = segments.get_segment(current_tenant_id(), query.segment_id)
        note("customers.exported", Target("segment", segment.id, f"the members of segment {segment.name}"))
    return csv_response(*download)


@api_route(bp, "/campaigns/<int:campaign_id>/recipients.csv", "GET", summary="A campaign's recipients (CSV)",
           tag="campaigns", media_type="text/csv", errors=(404,),
           description="Streamed. One row per recipient with the delivery status, sent_at and the error.")
def export_campaign_recipients_csv(campaign_id: int):
    download = exports.export_recipients(current_tenant_id(), campaign_id)
    campaign = campaigns.get_campaign(current_tenant_id(), campaign_id)
    note("customers.exported", Target("campaign", campaign.id, f"the recipients of campaign {campaign.name}"))
    return csv_response(*download)
