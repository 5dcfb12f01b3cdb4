"""Customers, activities and the timeline over JSON."""

from __future__ import annotations

import pydantic_core
from flask import Response, jsonify

from webapp.api.audit_trail import Target, note
from webapp.api.auth import current_tenant_id
from webapp.api.blueprint import bp
from webapp.api.registry import api_route
from webapp.api.schemas import (
    ActivityIn,
    ActivityOut,
    ActivityPage,
    CustomerIn,
    CustomerListQuery,
    CustomerOut,
    CustomerPage,
    CustomerPatch,
    TimelineQuery,
)
from webapp.api.serializers import customer_dict, customer_page
from webapp.services import activities, customers
from webapp.services.timeline import activity_dict, timeline


@api_route(bp, "/customers", "POST", summary="Create or update a customer (upsert)", tag="customers",
           body=CustomerIn, response=CustomerOut, status=201, errors=(409, 422),
           extra_responses={200: "Updated an existing customer"},
           description="Matches by external_id, then by email. 201 when created, 200 when updated.")
def upsert_customer(body: CustomerIn):
    customer, created = customers.upsert_customer(current_tenant_id(), body.model_dump(exclude_unset=True))
    return jsonify(customer_dict(customer)), 201 if created else 200


@api_route(bp, "/customers", "GET", summary="List customers", tag="customers",
           query=CustomerListQuery, response=CustomerPage, errors=(422,), read_only=True)
def list_customers(query: CustomerListQuery):
    page = customers.list_customers(current_tenant_id(), q=query.q, tag=query.tag,
                                    limit=query.limit, cursor=query.cursor)
    return jsonify(customer_page(current_tenant_id(), page))


@api_route(bp, "/customers/<int:customer_id>", "GET", summary="Get a customer", tag="customers",
           response=CustomerOut, errors=(404,), read_only=True)
def get_customer(customer_id: int):
    return jsonify(customer_dict(customers.get_customer(current_tenant_id(), customer_id)))


@api_route(bp, "/customers/<int:customer_id>", "PATCH", summary="Update a customer", tag="customers",
           body=CustomerPatch, response=CustomerOut, errors=(404, 409, 422))
def patch_customer(customer_id: int, body: CustomerPatch):
    customer = customers.update_customer(current_tenant_id(), customer_id,
                                         body.model_dump(exclude_unset=True))
    return jsonify(customer_dict(customer))


@api_route(bp, "/customers/<int:customer_id>", "DELETE", summary="Erase a customer and their activities",
           tag="customers", status=204, errors=(404,))
def delete_customer(customer_id: int):
    customers.delete_customer(current_tenant_id(), customer_id)
    # No name or address in the log: the erasure would otherwise be undone by its own record.
    note("customer.erased", Target("customer", customer_id, None))
    return "", 204


@api_route(bp, "/activities", "POST", summary="Log an activity (purchase, signup, note, custom)",
           tag="activities", body=ActivityIn, response=ActivityOut, status=201, errors=(404, 409, 422),
           extra_responses={200: "Already recorded: the stored activity, unchanged"},
           description="A purchase moves total_spent, orders_count and last_order_at. The same "
                       "idempotency_key, or a purchase's order_id, sent again returns the stored "
                       "activity with 200 and changes nothing.")
def create_activity(body: ActivityIn):
    activity, created = activities.record_activity(
        current_tenant_id(), body.type, customer_id=body.customer_id,
        customer=body.customer.model_dump(exclude_none=True) if body.customer else None,
        properties=body.properties, occurred_at=body.occurred_at,
        idempotency_key=body.idempotency_key)
    return jsonify(activity_dict(activity)), 201 if created else 200


@api_route(bp, "/customers/<int:customer_id>/timeline", "GET", summary="A customer's activity timeline",
           tag="activities", query=TimelineQuery, response=ActivityPage, errors=(404, 422), read_only=True,
           description="Newest first; filter by type (one or more) and by date range.")
def customer_timeline(customer_id: int, query: TimelineQuery):
    page = timeline(current_tenant_id(), customer_id, types=query.type, since=query.since, until=query.until,
                    limit=query.limit, cursor=query.cursor, as_json=True)
    # Each activity is already JSON (services/timeline.py): the page is joined, not written again.
    body = f'{{"data":[{",".join(page.items)}],"next_cursor":{pydantic_core.to_json(page.next_cursor).decode()}}}\n'
    return Response(body, mimetype="application/json")

