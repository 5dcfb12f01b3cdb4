"""The active workflows of a tenant by trigger type (cached, never stale) and whether a
trigger's payload matches one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select

from webapp.extensions import db
from webapp.models import AutomationStep, AutomationWorkflow


@dataclass(frozen=True)
class ActiveWorkflow:
    id: int
    trigger_type: str
    config: dict
    reentry: str
    first_step_id: int
    first_step_type: str
    first_step_config: dict


# tenant_id -> (key, {trigger_type: [ActiveWorkflow]}). The key (count, sum of versions,
# latest update) of the tenant's active workflows moves with every change, so the cache is
# never stale; checking it is one indexed aggregate instead of loading 50 workflows.
_ACTIVE_CACHE: dict[int, tuple[tuple, dict[str, list[ActiveWorkflow]]]] = {}
_ACTIVE_CACHE_SIZE = 1024


def active_workflows(tenant_id: int, trigger_type: str) -> list[ActiveWorkflow]:
    key = tuple(db.session.execute(
        select(func.count(AutomationWorkflow.id), func.coalesce(func.sum(AutomationWorkflow.version), 0),
               func.max(AutomationWorkflow.updated_at))
        .where(AutomationWorkflow.tenant_id == tenant_id, AutomationWorkflow.active.is_(True))).one())
    if not key[0]:
        return []
    cached = _ACTIVE_CACHE.get(tenant_id)
    if cached is None or cached[0] != key:
        first = (select(AutomationStep.workflow_id, func.min(AutomationStep.position).label("position"))
                 .group_by(AutomationStep.workflow_id).subquery())
        rows = db.session.execute(
            select(AutomationWorkflow.id, AutomationWorkflow.trigger_type, AutomationWorkflow.trigger_config,
                   AutomationWorkflow.reentry, AutomationStep.id, AutomationStep.type, AutomationStep.config)
            .join(first, first.c.workflow_id == AutomationWorkflow.id)
            .join(AutomationStep, and_(AutomationStep.workflow_id == AutomationWorkflow.id,
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
        if len(_ACTIVE_CACHE) >= _ACTIVE_CACHE_SIZE:
            _ACTIVE_CACHE.pop(next(iter(_ACTIVE_CACHE)))
        cached = _ACTIVE_CACHE[tenant_id] = (key, by_type)
    return cached[1].get(trigger_type, [])


def matches(workflow: ActiveWorkflow, payload: dict[str, Any]) -> bool:
    config = workflow.config
    if workflow.trigger_type == "purchase":
        total = payload.get("order_total")
        if config.get("min_order_total") is not None:
            if not isinstance(total, int | float) or total < config["min_order_total"]:
                return False
        event = payload.get("event") if isinstance(payload.get("event"), dict) else {}
        if config.get("event_id") is not None and str(event.get("id")) != config["event_id"]:
            return False
        if config.get("event_name") is not None and \
                str(event.get("name") or "").strip().lower() != config["event_name"].strip().lower():
            return False
    if workflow.trigger_type == "segment_entered":
        return payload.get("segment_id") == config.get("segment_id")
    return True
