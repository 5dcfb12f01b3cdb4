"""CSV downloads from the marketer pages: customers, a segment's members, a campaign's
recipients, and one customer's own data. Streamed; any signed-in role may download what
it may see."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user, login_required

from webapp.downloads import csv_response
from webapp.services import exports

bp = Blueprint("exports", __name__)


@bp.get("/customers/export.csv")
@login_required
def customers_csv():
    return csv_response(*exports.export_customers(current_user.tenant_id))


@bp.get("/segments/<int:segment_id>/members.csv")
@login_required
def segment_members_csv(segment_id: int):
    return csv_response(*exports.export_customers(current_user.tenant_id, segment_id))


@bp.get("/campaigns/<int:campaign_id>/recipients.csv")
@login_required
def campaign_recipients_csv(campaign_id: int):
    return csv_response(*exports.export_recipients(current_user.tenant_id, campaign_id))


@bp.get("/customers/<int:customer_id>/export.csv")
@login_required
def customer_data_csv(customer_id: int):
    return csv_response(*exports.export_customer_data(current_user.tenant_id, customer_id))
