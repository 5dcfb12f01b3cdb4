"""The active workflows of a tenant by trigger type (cached, never stale) and whether a
trigger's payload matches one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select

from webapp.extensions import db
from webapp.infra.memo import VersionedCache
from webapp.models import AutomationStep, AutomationWorkflow
from webapp.services.cache_keys import tenant_keys


@dataclass(frozen=True)
class ActiveWorkflow:
    id: int
    trigger_type: str
    config: dict
    reentry: str
    first_step_id: int
    first_step_type: str
    first_step_config: dict


# tenant_id -> {trigger_type: [ActiveWorkflow]} under the key (count, sum of versions,
# latest update) of the tenant's active workflows: it moves with every change, so the cache
# is never stale; checking it is one indexed aggregate instead of loading 50 workflows.
_ACTIVE = VersionedCache[dict[str, list[ActiveWorkflow]]]()


def workflow_keys(tenant_id: int) -> tuple[tuple, tuple]:
    """What moves with every change to the tenant's active workflows (and to all of them,
    switched on or off): the keys of the caches that read them. Read once per transaction
    with the segments' versions (services/cache_keys.py): a purchase asks for it three
    times (triggers, goals, wait_for)."""
    keys = tenant_keys(tenant_id)
    return keys.active, keys.workflows


def active_key(tenant_id: int) -> tuple:
    """What moves with every change to the tenant's active workflows or their steps."""
    return tenant_keys(tenant_id).active


def active_workflows(tenant_id: int, trigger_type: str) -> list[ActiveWorkflow]:
    key = active_key(tenant_id)
    if not key[0]:
        return []
    return _ACTIVE.get(tenant_id, key, lambda: _load(tenant_id)).get(trigger_type, [])


def _load(tenant_id: int) -> dict[str, list[ActiveWorkflow]]:
    # The first step of the main path (steps on a split's or wait_for's paths count
    # positions within their path).
    first = (select(AutomationStep.workflow_id, func.min(AutomationStep.position).label("position"))
             .where(AutomationStep.parent_step_id.is_(None))
             .group_by(AutomationStep.workflow_id).subquery())
    rows = db.session.execute(
        select(AutomationWorkflow.id, AutomationWorkflow.trigger_type, AutomationWorkflow.trigger_config,
               AutomationWorkflow.reentry, AutomationStep.id, AutomationStep.type, AutomationStep.config)
        .join(first, first.c.workflow_id == AutomationWorkflow.id)
        .join(AutomationStep, and_(AutomationStep.workflow_id == AutomationWorkflow.id,
                                   AutomationStep.parent_step_id.is_(None),
                                   AutomationStep.position == first.c.position))
        .where(AutomationWorkflow.tenant_id == tenant_id, AutomationWorkflow.active.is_(True))
        .order_by(AutomationWorkflow.id, AutomationStep.id))
    by_type: dict[str, list[ActiveWorkflow]] = {}
    seen: set[int] = set()
    for wid, ttype, config, reentry, step_id, step_type, step_config in rows:
        if wid not in seen:
            seen.add(wid)
            by_type.setdefault(ttype, []).append(ActiveWorkflow(wid, ttype, dict(config or {}), reentry, step_id,
                                                                step_type, dict(step_config or {})))
    return by_type



def matches(workflow: ActiveWorkflow, payload: dict[str, Any]) -> bool:
    config = workflow.config
    if workflow.trigger_type == "purchase":
        total = payload.get("order_total")
        if config.get("min_order_total") is not None:
            if not isinstance(total, int | float) or total < config["min_order_total"]:
                return False
        event = payload.get("event") if isinstance(payload.get("event"), dict) else {}
        # The platform names its event `external_id` or, as purchases always have, `id`.
        platform_id = event.get("external_id", event.get("id"))
        if config.get("event_id") is not None and str(platform_id) != config["event_id"]:
            return False
        if config.get("event_name") is not None and \
                str(event.get("name") or "").strip().lower() != config["event_name"].strip().lower():
            return False
    if workflow.trigger_type == "event_ended":
        event = payload.get("event") if isinstance(payload.get("event"), dict) else {}
        if config.get("event_id") is not None and event.get("event_id") != config["event_id"]:
            return False
        return config.get("attended") is None or payload.get("attended") is config["attended"]
    if workflow.trigger_type == "segment_entered":
        return payload.get("segment_id") == config.get("segment_id")
    if workflow.trigger_type in ("topic_subscribed", "topic_unsubscribed") and config.get("topic_id") is not None:
        return payload.get("topic_id") == config["topic_id"]
    if workflow.trigger_type in ("low_inventory", "sold_out", "back_in_stock", "waitlist_offer") \
            and config.get("event_id") is not None:
        # One event (our id), else any.
        event = payload.get("event") if isinstance(payload.get("event"), dict) else {}
        return event.get("event_id") == config["event_id"]
    if workflow.trigger_type in ("event_reminder", "event_changed"):
        return _matches_event_clock(config, payload)
    return True


def _matches_event_clock(config: dict[str, Any], payload: dict[str, Any]) -> bool:
    """event_reminder and event_changed: one event only (our id), events with a tag, the
    kinds of change listened for."""
    event = payload.get("event") if isinstance(payload.get("event"), dict) else {}
    if config.get("event_id") is not None and event.get("event_id") != config["event_id"]:
        return False
    if config.get("tag"):
        tags = event.get("tags") if isinstance(event.get("tags"), list) else []
        if config["tag"].lower() not in {str(t).lower() for t in tags}:
            return False
    if config.get("changes"):
        kinds = payload.get("kinds") if isinstance(payload.get("kinds"), list) else [payload.get("change")]
        return bool(set(config["changes"]) & set(kinds))
    return True
