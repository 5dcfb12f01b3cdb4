"""What the campaign editor's and the workflow email step's previews share: the "Preview as"
customer, the sender line and the preview partial (with why a preview cannot be shown)."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user

from webapp.infra.errors import ValidationFailed
from webapp.infra.validation import text_problem
from webapp.models import EmailCampaign
from webapp.services import campaigns, customers
from webapp.web.email_builder import describe_design_path


def sender_line(campaign: EmailCampaign) -> str:
    name, email = campaigns.sender_of(campaign, current_user.tenant)
    return f"{name} <{email}>" if name else email


def preview_customer() -> tuple[Any, str]:
    """The customer chosen in "Preview as" (by email), and what was typed."""
    query = (request.values.get("preview_as") or "").strip()[:320]
    if not query:
        return None, ""
    if text_problem(query):  # no customer's email holds it, and the database cannot even compare it
        return None, query
    return customers.find_customer(current_user.tenant_id, email=query), query


def preview_response(preview: dict | None, error: dict | None, customer, query: str,
                      sender: str | None) -> ResponseReturnValue:
    return render_template("campaigns/_preview.html", preview=preview, preview_error=error, customer=customer,
                           query=query, sender=sender), 422 if error else 200


def preview_problem(exc: ValidationFailed, design: Any) -> dict[str, str]:
    """Why the preview cannot be shown; a design's error names its block in words."""
    if exc.field.startswith("design."):
        return {"field": describe_design_path(design, exc.field), "message": exc.reason}
    return {"field": exc.field, "message": exc.reason}
