"""The JSON API at /api/crm: token-authenticated, JSON in and out."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/crm")

from webapp.api import (  # noqa: E402,F401  (registers the views)
    campaigns,
    customers,
    imports,
    openapi,
    segments,
    sending_domains,
    tracking,
    workflows,
)
from webapp.api.auth import authenticate_request  # noqa: E402
from webapp.api.errors import register_error_handlers  # noqa: E402

bp.before_request(authenticate_request)
register_error_handlers(bp)
