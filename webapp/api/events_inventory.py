"""Inventory and waitlists over JSON: the platform reports tickets left, puts customers on an
event's waitlist, and reads who was offered what."""

from __future__ import annotations

from flask import jsonify
from sqlalchemy import select

from webapp.api.auth import current_tenant_id
from webapp.api.blueprint import bp
from webapp.api.events import event_dicts
from webapp.api.registry import api_route
from webapp.api.schemas.events import EventOut
from webapp.api.schemas.waitlists import (
    InventoryIn,
    WaitlistEntryOut,
    WaitlistJoinIn,
    WaitlistPage,
    WaitlistQuery,
    WaitlistSettings,
    WaitlistSettingsOut,
)
from webapp.extensions import db
from webapp.infra.types import iso_or_none
from webapp.models import Customer, EventWaitlist, WaitlistEntry
from webapp.services.activities import resolve_customer
from webapp.services.changes import customer_changed
from webapp.services.events import catalogue, inventory, waitlist


def entry_dicts(tenant_id: int, event_id: int, entries: list[WaitlistEntry]) -> list[dict]:
    emails = dict(db.session.execute(select(Customer.id, Customer.email).where(
        Customer.tenant_id == tenant_id, Customer.id.in_({e.customer_id for e in entries}))).all()) if entries else {}
    places = waitlist.positions(event_id, [e.id for e in entries])
    return [{
        "id": e.id, "event_id": e.event_id, "customer_id": e.customer_id, "email": emails.get(e.customer_id, ""),
        "status": e.status, "position": places.get(e.id), "quantity": e.quantity, "source": e.source,
        "joined_at": iso_or_none(e.joined_at), "offered_quantity": e.offered_quantity,
        "offered_at": iso_or_none(e.offered_at), "expires_at": iso_or_none(e.offer_expires_at),
        "claimed_at": iso_or_none(e.claimed_at), "ended_at": iso_or_none(e.ended_at),
        "offer_token_sha256": e.offer_token_hash,
    } for e in entries]


def _settings(tenant_id: int, settings: EventWaitlist) -> dict:
    return {"event_id": settings.event_id, "join_url": waitlist.join_url(settings),
            "offer_minutes": settings.offer_minutes,
            "counts": waitlist.waitlist_summary(tenant_id, [settings.event_id])[settings.event_id]}


@api_route(bp, "/events/<int:event_id>/inventory", "POST", summary="Report an event's inventory", tag="events",
           body=InventoryIn, response=EventOut, errors=(404, 422),
           description="Tickets `available` (and `capacity`, when it changed): 0 <= available <= capacity <= "
                       "10,000,000. At 0 the event is sold_out, above 0 again on_sale (a cancelled, ended or "
                       "rescheduled status stays). Fires low_inventory, sold_out and back_in_stock workflows once "
                       "per crossing; tickets that came back are offered to the waitlist.")
def report_inventory(event_id: int, body: InventoryIn):
    tenant_id = current_tenant_id()
    event = inventory.report_inventory(tenant_id, event_id, body.model_dump(exclude_unset=True))
    return jsonify(event_dicts(tenant_id, [event])[0])


@api_route(bp, "/events/<int:event_id>/waitlist", "POST", summary="Put a customer on an event's waitlist",
           tag="events", body=WaitlistJoinIn, response=WaitlistEntryOut, status=201, errors=(404, 409, 422),
           extra_responses={200: "The customer was already waiting (or holds an offer): their entry."},
           description="The customer is found or created as activities do. 409 when the event is cancelled, "
                       "ended or has started.")
def join_waitlist(event_id: int, body: WaitlistJoinIn):
    tenant_id = current_tenant_id()
    event = catalogue.get_event(tenant_id, event_id)
    reference = body.customer.model_dump(exclude_none=True) if body.customer is not None else None
    customer = resolve_customer(tenant_id, body.customer_id, reference)
    entry, created = waitlist.join(tenant_id, event, customer.id, quantity=body.quantity, source="api")
    if created:
        waitlist.log_joined(customer, event, body.quantity, "api")
        db.session.flush()
        customer_changed(tenant_id, customer.id)
    db.session.commit()
    return jsonify(entry_dicts(tenant_id, event.id, [entry])[0]), 201 if created else 200


@api_route(bp, "/events/<int:event_id>/waitlist", "GET", summary="List an event's waitlist", tag="events",
           query=WaitlistQuery, response=WaitlistPage, errors=(404,),
           description="In queue order, with each entry's offer (tickets held, when it was made and expires, "
                       "whether it was claimed): how the platform learns who was offered what.")
def list_waitlist(event_id: int, query: WaitlistQuery):
    tenant_id = current_tenant_id()
    event = catalogue.get_event(tenant_id, event_id)
    settings = waitlist.waitlist_of(event)
    db.session.commit()
    page = waitlist.list_entries(tenant_id, event, status=query.status, limit=query.limit, cursor=query.cursor)
    return jsonify({**_settings(tenant_id, settings), "data": entry_dicts(tenant_id, event.id, page.items),
                    "next_cursor": page.next_cursor})


@api_route(bp, "/events/<int:event_id>/waitlist", "PATCH", summary="Change an event's waitlist settings",
           tag="events", body=WaitlistSettings, response=WaitlistSettingsOut, errors=(404, 422),
           description="`offer_minutes` (5 to 1440, default 60): how long an offer holds its tickets.")
def update_waitlist(event_id: int, body: WaitlistSettings):
    tenant_id = current_tenant_id()
    settings = waitlist.update_settings(tenant_id, event_id, body.model_dump())
    return jsonify(_settings(tenant_id, settings))


@api_route(bp, "/events/<int:event_id>/waitlist/<int:entry_id>", "DELETE", summary="Take a customer off a waitlist",
           tag="events", response=WaitlistEntryOut, errors=(404,),
           description="The entry is `left`; an offer it held passes to the next in line. Idempotent.")
def leave_waitlist(event_id: int, entry_id: int):
    tenant_id = current_tenant_id()
    entry = waitlist.leave(tenant_id, event_id, entry_id)
    return jsonify(entry_dicts(tenant_id, event_id, [entry])[0])
