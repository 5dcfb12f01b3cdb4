"""Events over JSON: the platform keeps its performances up to date here, and reads who
holds tickets."""

from __future__ import annotations

from flask import jsonify

from webapp.api.auth import current_tenant_id
from webapp.api.blueprint import bp
from webapp.api.registry import api_route
from webapp.api.schemas.common import PageQuery
from webapp.api.schemas.customers import CustomerPage
from webapp.api.schemas.events import EventFields, EventIn, EventList, EventListQuery, EventOut
from webapp.api.serializers import customer_page
from webapp.infra.types import iso_or_none
from webapp.models import Event
from webapp.services.events import attendance, catalogue, holders, listing


def event_dicts(tenant_id: int, events: list[Event]) -> list[dict]:
    tags = catalogue.event_tags([e.id for e in events])
    sold = holders.sales(tenant_id, events)
    zones = listing.zones(tenant_id, events)
    came = attendance.attendance(tenant_id, events)
    return [{
        "id": e.id, "external_id": e.external_id, "name": e.name, "starts_at": iso_or_none(e.starts_at),
        "doors_at": iso_or_none(e.doors_at), "ends_at": iso_or_none(e.ends_at),
        "venue": {"name": e.venue_name, "city": e.venue_city}, "timezone": zones[e.id],
        "capacity": e.capacity, "available": e.available, "status": e.status, "url": e.url,
        "image_url": e.image_url, "tags": tags[e.id], "sequence": e.sequence,
        "tickets_sold": sold[e.id].tickets_sold, "buyers": sold[e.id].buyers, "orders": sold[e.id].orders,
        "revenue": float(sold[e.id].revenue), "created_at": iso_or_none(e.created_at),
        "attendance": {"attended": came[e.id].attended, "no_show": came[e.id].no_show, "rate": came[e.id].rate,
                       "settled_at": iso_or_none(e.settled_at)},
        "updated_at": iso_or_none(e.updated_at),
    } for e in events]


@api_route(bp, "/events", "POST", summary="Create or update an event (upsert by external_id)", tag="events",
           body=EventIn, response=EventOut, status=201, errors=(422,),
           extra_responses={200: "An existing event was updated."},
           description="Only the fields sent change. A change of start, doors, end, venue, timezone or status "
                       "bumps `sequence` and is announced to holders (event_changed). `venue` may be a string "
                       "(its name) or {name, city}; `tags` {genre|artist|series|tag: string or [strings]} "
                       "replace the event's tags.")
def upsert_event(body: EventIn):
    tenant_id = current_tenant_id()
    saved = catalogue.upsert_event(tenant_id, body.model_dump(exclude_unset=True))
    return jsonify(event_dicts(tenant_id, [saved.event])[0]), 201 if saved.created else 200


@api_route(bp, "/events", "GET", summary="List events", tag="events", query=EventListQuery, response=EventList)
def list_events(query: EventListQuery):
    tenant_id = current_tenant_id()
    page = listing.list_events(tenant_id, when=query.when, status=query.status, limit=query.limit,
                               cursor=query.cursor)
    return jsonify({"data": event_dicts(tenant_id, page.items), "next_cursor": page.next_cursor})


@api_route(bp, "/events/<int:event_id>", "GET", summary="Get an event", tag="events", response=EventOut,
           errors=(404,))
def get_event(event_id: int):
    tenant_id = current_tenant_id()
    return jsonify(event_dicts(tenant_id, [catalogue.get_event(tenant_id, event_id)])[0])


@api_route(bp, "/events/<int:event_id>", "PATCH", summary="Change an event", tag="events", body=EventFields,
           response=EventOut, errors=(404, 422),
           description="Only the fields sent change; as the upsert, an announced change bumps `sequence`.")
def patch_event(event_id: int, body: EventFields):
    tenant_id = current_tenant_id()
    saved = catalogue.update_event(tenant_id, event_id, body.model_dump(exclude_unset=True))
    return jsonify(event_dicts(tenant_id, [saved.event])[0])


@api_route(bp, "/events/<int:event_id>/holders", "GET", summary="List an event's ticket holders", tag="events",
           query=PageQuery, response=CustomerPage, errors=(404,),
           description="Buyers of tickets for the event and the guests on their tickets who became customers.")
def event_holders(event_id: int, query: PageQuery):
    tenant_id = current_tenant_id()
    page = holders.list_holders(tenant_id, catalogue.get_event(tenant_id, event_id), limit=query.limit,
                                cursor=query.cursor)
    return jsonify(customer_page(tenant_id, page))
