"""Batch ingest over JSON: up to 1,000 activities or customers a request, one result each."""

from __future__ import annotations

from typing import Any

import pydantic_core
from flask import jsonify, request
from pydantic import BaseModel, ValidationError

from webapp.api.auth import current_tenant_id
from webapp.api.blueprint import bp
from webapp.api.errors import ApiError
from webapp.api.registry import api_route
from webapp.api.schemas.activities import ActivityIn
from webapp.api.schemas.batch import MAX_BATCH_ITEMS, ActivityBatchIn, BatchOut, CustomerBatchIn
from webapp.api.schemas.customers import CustomerIn
from webapp.infra.errors import DomainError, ValidationFailed
from webapp.infra.validation import error_details, unstorable
from webapp.services import ingest

_PER_ITEM = ("Each item is answered on its own, in request order: {index, status: 201, id} when stored, "
             "{index, status: 200, id} when {already}, {index, status: 4xx, error} when refused; a refused "
             "item changes nothing and never fails the others. More than 1,000 items, or a body past 8 MiB: 413. "
             "A batch the database refuses for contention three times is answered 503 as a whole, nothing "
             "saved, except after a ticket scan (stored in its place, on its own): then only the items "
             "after it are answered {index, status: 503, error} each.")


def _items(name: str) -> list[Any]:
    """The body's list `name`, read leniently so that each item can be judged on its own."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the body as JSON with Content-Type: application/json")
    try:
        # NaN and Infinity parse here and are refused per item, with the item's index.
        body = pydantic_core.from_json(request.get_data(cache=True) or b"{}", allow_inf_nan=True)
    except ValueError as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(422, "validation_error", "the body must be a JSON object",
                       [{"field": "", "message": "must be a JSON object"}])
    unknown = sorted(str(key) for key in body if key != name)
    if unknown or not isinstance(body.get(name), list):
        field = unknown[0] if unknown else name
        message = "is not a field of this body" if unknown else "must be a list of objects"
        if unknown and unstorable(field) is not None:
            field = "(a key)"
        raise ApiError(422, "validation_error", f"{field}: {message}", [{"field": field, "message": message}])
    items = body[name]
    if len(items) > MAX_BATCH_ITEMS:
        raise ApiError(413, "payload_too_large", f"{name}: at most {MAX_BATCH_ITEMS} items a request",
                       [{"field": name, "message": f"at most {MAX_BATCH_ITEMS} items"}])
    return items


def _validated(item: Any, model: type[BaseModel]) -> BaseModel | DomainError:
    """One item checked as its single route checks a body, or the error it would have had."""
    if not isinstance(item, dict):
        return ValidationFailed("", "must be a JSON object")
    found = unstorable(item)
    if found is not None:
        return ValidationFailed(*found)
    try:
        # As JSON, the way single routes read a body: strict JSON mode reads ISO 8601 strings as moments.
        return model.model_validate_json(pydantic_core.to_json(item))
    except ValidationError as exc:
        details = error_details(exc)
        return ValidationFailed("", "; ".join(f"{d['field']}: {d['message']}" for d in details[:5]),
                                details=details)


def _activity(item: Any) -> dict[str, Any] | DomainError:
    parsed = _validated(item, ActivityIn)
    if isinstance(parsed, DomainError):
        return parsed
    assert isinstance(parsed, ActivityIn)
    return {"type": parsed.type, "customer_id": parsed.customer_id,
            "customer": parsed.customer.model_dump(exclude_none=True) if parsed.customer else None,
            "properties": parsed.properties, "occurred_at": parsed.occurred_at,
            "idempotency_key": parsed.idempotency_key}


def _customer(item: Any) -> dict[str, Any] | DomainError:
    parsed = _validated(item, CustomerIn)
    return parsed if isinstance(parsed, DomainError) else parsed.model_dump(exclude_unset=True)


@api_route(bp, "/activities/batch", "POST", summary="Log up to 1,000 activities in one request",
           tag="activities", body=ActivityBatchIn, response=BatchOut, errors=(413, 422),
           parse_body_model=False,
           description=_PER_ITEM.replace("{already}", "already recorded (same idempotency_key or order_id, "
                                                      "also earlier in the same batch)"))
def ingest_activities():
    items = [_activity(item) for item in _items("activities")]
    return jsonify({"results": ingest.ingest_activities(current_tenant_id(), items)})


@api_route(bp, "/customers/batch", "POST", summary="Create or update up to 1,000 customers in one request",
           tag="customers", body=CustomerBatchIn, response=BatchOut, errors=(409, 413, 422),
           parse_body_model=False,
           description=_PER_ITEM.replace("{already}", "an existing customer was updated (matched by "
                                                      "external_id, then email)"))
def ingest_customers():
    items = [_customer(item) for item in _items("customers")]
    return jsonify({"results": ingest.ingest_customers(current_tenant_id(), items)})
