"""wait_for: recording an activity wakes the enrollments waiting for it, at once.

Event-driven, not polled: a wait_for step that starts waiting writes the activity type
on the enrollment (waiting_for) and its timeout as next_run_at. When an activity of that
type is recorded for the customer, the waiting enrollments whose `match` it meets get
awaited_at and are due now; a run job is enqueued after the commit (the periodic sweep
finds any whose job Redis lost). A tenant without wait_for steps pays one cached check.

The match rule lives here (below the step type, which describes and validates it) so
that recording an activity needs nothing from the workflow engine.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update

from webapp.extensions import db
from webapp.infra.memo import VersionedCache
from webapp.infra.queues import after_commit_merged
from webapp.infra.types import utcnow
from webapp.models import AutomationEnrollment, AutomationStep, AutomationWorkflow
from webapp.services.enrollment.active import active_key
from webapp.services.enrollment.enroll import RUN_BATCH_SIZE, RUN_JOB_TIMEOUT

# "{{ trigger.event }}", "{{ trigger.order_id }}": a value read from the trigger's payload.
TRIGGER_REF = re.compile(r"^\{\{\s*trigger((?:\.[A-Za-z0-9_]+)+)\s*\}\}$")
MISSING = object()

# tenant_id -> the activity types its active workflows' wait_for steps await, under active_key.
_AWAITED = VersionedCache[frozenset[str]]()


def awaited_types(tenant_id: int) -> frozenset[str]:
    """The activity types some active workflow of the tenant has a wait_for step for;
    cached under the active workflows' key, so never stale."""
    key = active_key(tenant_id)
    if not key[0]:
        return frozenset()
    return _AWAITED.get(tenant_id, key, lambda: _awaited(tenant_id))


def _awaited(tenant_id: int) -> frozenset[str]:
    configs = db.session.scalars(select(AutomationStep.config).join(
        AutomationWorkflow, AutomationWorkflow.id == AutomationStep.workflow_id).where(
        AutomationWorkflow.tenant_id == tenant_id, AutomationWorkflow.active.is_(True),
        AutomationStep.type == "wait_for"))
    return frozenset(str(c.get("activity_type")) for c in configs if isinstance(c, dict))


def event_ref(value: Any) -> Any:
    """An event as the platform names it: an object's external_id (else id), or the value."""
    if isinstance(value, dict):
        return value.get("external_id", value.get("id", MISSING))
    return value


def _dig(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, dict) or part not in data:
            return MISSING
        data = data[part]
    return data


def expected_value(value: Any, trigger_payload: dict[str, Any] | None) -> Any:
    """A match value: a literal, or `{{ trigger.path }}` read from the trigger's payload
    (`{{ trigger.event }}`: the trigger's event, by the platform's id)."""
    found = TRIGGER_REF.match(value) if isinstance(value, str) else None
    if found is None:
        return value
    path = found.group(1)[1:]
    got = _dig(trigger_payload or {}, path)
    return event_ref(got) if path == "event" else got


def _same(actual: Any, expected: Any) -> bool:
    if actual is MISSING or expected is MISSING or actual is None or expected is None:
        return False
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected
    # The platform sends ids as numbers or strings: "42" and 42 are the same event.
    return str(actual).strip() == str(expected).strip()


def match_awaited(match: dict[str, Any] | None, properties: dict[str, Any] | None,
                  trigger_payload: dict[str, Any] | None) -> bool:
    """Whether an activity's properties meet a wait_for's `match`: every key (a property,
    or a dotted path such as event.name; `event`: the activity's event by the platform's
    id) equals its value."""
    for key, value in (match or {}).items():
        actual = _dig(properties or {}, key)
        if key == "event":
            actual = event_ref(actual)
        if not _same(actual, expected_value(value, trigger_payload)):
            return False
    return True


def wake_awaiting(tenant_id: int, customer_id: int, activity_type: str, properties: dict[str, Any] | None,
                  occurred_at: datetime, *, now: datetime | None = None) -> list[int]:
    """The customer's enrollments waiting for this activity (and whose match it meets) go
    on the "happened" path: due now, run by a job after the commit. Activities that
    happened before the customer reached the step do not count. Returns their ids."""
    if activity_type not in awaited_types(tenant_id):
        return []
    now = now or utcnow()
    waiting = and_(AutomationEnrollment.customer_id == customer_id, AutomationEnrollment.tenant_id == tenant_id,
                   AutomationEnrollment.waiting_for == activity_type, AutomationEnrollment.status == "waiting")
    rows = db.session.execute(select(AutomationEnrollment.id, AutomationEnrollment.trigger_payload,
                                     AutomationEnrollment.step_entered_at, AutomationStep.config)
                              .join(AutomationStep, AutomationStep.id == AutomationEnrollment.current_step_id)
                              .where(waiting)).all()
    ids = [r.id for r in rows
           if (r.step_entered_at is None or r.step_entered_at <= occurred_at)
           and match_awaited((r.config or {}).get("match"), properties, r.trigger_payload)]
    if not ids:
        return []
    db.session.execute(update(AutomationEnrollment).where(waiting, AutomationEnrollment.id.in_(ids)).values(
        awaited_at=occurred_at, waiting_for=None,
        # Due now; an activity sent with a (past) time runs at that time, so a clock moved
        # by tests or a late delivery never waits for a sweep.
        next_run_at=min(occurred_at, now)).execution_options(synchronize_session=False))
    after_commit_merged("workflows.run_enrollments", ids, chunk=RUN_BATCH_SIZE, queue="default",
                        job_timeout=RUN_JOB_TIMEOUT, result_ttl=60, failure_ttl=86400)
    return ids
