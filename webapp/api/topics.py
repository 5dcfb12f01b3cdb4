"""Topics over JSON: what campaigns are sent under and people choose to get."""

from __future__ import annotations

from flask import jsonify

from webapp.api.auth import current_tenant_id
from webapp.api.blueprint import bp
from webapp.api.registry import api_route
from webapp.api.schemas.topics import TopicIn, TopicList, TopicOut, TopicPatch
from webapp.infra.types import iso_or_none
from webapp.models import Topic
from webapp.services import topics
from webapp.services.consent import tenant_topics


def topic_dict(topic: Topic, subscribers: dict[int, int]) -> dict:
    return {
        "id": topic.id,
        "name": topic.name,
        "description": topic.description,
        "default_subscribed": topic.default_subscribed,
        "position": topic.position,
        "subscriber_count": subscribers.get(topic.id, 0),
        "created_at": iso_or_none(topic.created_at),
    }


def _one(topic: Topic) -> dict:
    return topic_dict(topic, topics.subscriber_counts(topic.tenant_id))


@api_route(bp, "/topics", "GET", summary="List topics", tag="topics", response=TopicList,
           description="In the order people see them (position). At most 50, so one page.")
def list_topics():
    tenant_id = current_tenant_id()
    counts = topics.subscriber_counts(tenant_id)
    return jsonify({"data": [topic_dict(t, counts) for t in tenant_topics(tenant_id)], "next_cursor": None})


@api_route(bp, "/topics", "POST", summary="Create a topic", tag="topics", body=TopicIn, response=TopicOut,
           status=201, errors=(409, 422),
           description="Names are unique in the organisation (409 otherwise, ignoring case); at most 50 topics "
                       "(422). New topics go last.")
def create_topic(body: TopicIn):
    topic = topics.create_topic(current_tenant_id(), body.model_dump())
    return jsonify(_one(topic)), 201


@api_route(bp, "/topics/<int:topic_id>", "PATCH", summary="Change a topic", tag="topics", body=TopicPatch,
           response=TopicOut, errors=(404, 409, 422),
           description="Only the fields sent change. position moves the topic (0 = first).")
def patch_topic(topic_id: int, body: TopicPatch):
    changes = body.model_dump(exclude_unset=True)
    for field in ("name", "default_subscribed"):
        if field in changes and changes[field] is None:
            changes.pop(field)
    topic = topics.update_topic(current_tenant_id(), topic_id, changes)
    return jsonify(_one(topic))


@api_route(bp, "/topics/<int:topic_id>", "DELETE", summary="Delete a topic", tag="topics", status=204,
           errors=(404, 409),
           description="Everyone's choices of it go too. A 409 naming them while a draft, scheduled or sending "
                       "campaign is under the topic; sent campaigns keep their figures.")
def delete_topic(topic_id: int):
    topics.delete_topic(current_tenant_id(), topic_id)
    return "", 204
