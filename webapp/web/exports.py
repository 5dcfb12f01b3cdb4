"""CSV downloads from the marketer pages: customers, a segment's members, a campaign's
recipients, and one customer's own data. Streamed; any signed-in role may download what
it may see."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user, login_required

from webapp.downloads import csv_response
from webapp.services import campaigns, customers, exports, segments
from webapp.services.audit import Target
from webapp.web.audit import note

bp = Blueprint("exports", __name__)


@bp.get("/customers/export.csv")
@login_required
def customers_csv():
    download = exports.export_customers(current_user.tenant_id)
    note("customers.exported", Target("customers", None, "all customers"))
    return csv_response(*download)


@bp.get("/segments/<int:segment_id>/members.csv")
@login_required
def segment_members_csv(segment_id: int):
    download = exports.export_customers(current_user.tenant_id, segment_id)
    segment = segments.get_segment(current_user.tenant_id, segment_id)
    note("customers.exported", Target("segment", segment.id, f"the members of segment {segment.name}"))
    return csv_response(*download)


@bp.get("/campaigns/<int:campaign_id>/recipients.csv")
@login_required
def campaign_recipients_csv(campaign_id: int):
    download = exports.export_recipients(current_user.tenant_id, campaign_id)
    campaign = campaigns.get_campaign(current_user.tenant_id, campaign_id)
    note("customers.exported", Target("campaign", campaign.id, f"the recipients of campaign {campaign.name}"))
    return csv_response(*download)


@bp.get("/customers/<int:customer_id>/export.csv")
@login_required
def customer_data_csv(customer_id: int):
    download = exports.export_customer_data(current_user.tenant_id, customer_id)
    customer = customers.get_customer(current_user.tenant_id, customer_id)
    note("customers.exported", Target("customer", customer.id, f"everything stored about {customer.email}"))
    return csv_response(*download)
