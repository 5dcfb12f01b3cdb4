"""`flask crm doctor`: find, and with repair=True mend, rows that earlier versions accepted
and today's rules refuse, so that none of them can fail a later request or job.

- JSON documents (attributes, properties, payloads, configs, conditions) holding NaN,
  Infinity, numbers past 64 bits, NUL characters or lone surrogates: the value becomes null
  (the character is dropped).
- Definitions (segment conditions, workflow triggers and steps) that no longer validate:
  dates outside the calendar move to its nearest edge (a wait until 9999 becomes one until
  2999-12-31: still "never" in practice); a workflow whose definition still does not
  validate is switched off, with the reason in the report.
- Scheduled campaigns whose send time lies outside the calendar move to its edge.
- Follow-ups of large batches whose tries are spent (the reason is in the report): repair
  resets their tries so the next sweep hands them to a worker again.

Every finding says what was wrong and what was (or would be) changed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import String, cast, or_, select, text

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.types import utcnow
from webapp.infra.validation import EARLIEST, LATEST, MAX_JSON_INT, in_calendar, read_moment, unstorable
from webapp.models import (
    AutomationEnrollment,
    AutomationStep,
    AutomationWorkflow,
    Customer,
    CustomerActivity,
    CustomerSegment,
    EmailCampaign,
    IngestFollowup,
    Tenant,
)
from webapp.segments.definition import parse_definition
from webapp.services.triggers import validate_trigger
from webapp.services.workflows.steps import validate_step

BATCH = 500
LAST_DAY = LATEST - timedelta(days=1)


@dataclass
class Finding:
    table: str
    row_id: int
    tenant_id: int | None
    field: str
    problem: str
    change: str
    repaired: bool = False

    def __str__(self) -> str:
        done = "repaired" if self.repaired else "not repaired"
        return f"{self.table} #{self.row_id} (tenant {self.tenant_id}) {self.field}: {self.problem} -> " \
               f"{self.change} [{done}]"


# --- JSON documents ---------------------------------------------------------------------------

JSON_COLUMNS = [(Customer, "attributes"), (CustomerActivity, "properties"), (AutomationEnrollment, "trigger_payload"),
                (AutomationStep, "config"), (AutomationWorkflow, "trigger_config"), (CustomerSegment, "conditions")]


def sanitised(value: Any) -> tuple[Any, list[str]]:
    """A copy of `value` that every backend stores faithfully, and the paths changed."""
    changed: list[str] = []

    def clean(item: Any, path: str) -> Any:
        if isinstance(item, str):
            kept = "".join(c for c in item if c != "\x00" and not "\ud800" <= c <= "\udfff")
            if kept != item:
                changed.append(path)
            return kept
        if isinstance(item, float) and (not math.isfinite(item) or abs(item) > MAX_JSON_INT) or \
                isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_JSON_INT:
            changed.append(path)
            return None
        if isinstance(item, dict):
            return {clean(str(k), f"{path}.{k}"): clean(v, f"{path}.{k}") for k, v in item.items()}
        if isinstance(item, list):
            return [clean(v, f"{path}[{i}]") for i, v in enumerate(item)]
        return item

    return clean(value, ""), changed


def _suspects(model, column):
    """Rows that may hold an unstorable value: a cheap filter in SQL, confirmed in Python."""
    attribute = getattr(model, column)
    if db.engine.dialect.name == "postgresql":
        # jsonb holds no NaN, NUL or lone surrogate; only numbers past 64 bits can be there.
        return text(f"jsonb_path_exists({model.__tablename__}.{column}, "
                    "'strict $.** ? (@.type() == \"number\" && (@ > 9223372036854775807 || "
                    "@ < -9223372036854775807))')")
    as_text = cast(attribute, String)
    return or_(as_text.like("%NaN%"), as_text.like("%Infinity%"), as_text.like("%\\u0000%"),
               as_text.like("%\\ud%"), as_text.like("%e+%"), as_text.op("GLOB")("*[0-9]" * 19 + "*"))


def _batches(model, condition) -> Iterator[list[Any]]:
    """The matching rows, BATCH at a time by id (a commit between batches reloads nothing)."""
    last = 0
    while True:
        rows = list(db.session.scalars(select(model).where(condition, model.id > last).order_by(model.id).limit(BATCH)))
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _rows(model, condition) -> Iterator[Any]:
    for batch in _batches(model, condition):
        yield from batch


def check_json_documents(repair: bool) -> list[Finding]:
    findings = []
    for model, column in JSON_COLUMNS:
        for row in _rows(model, _suspects(model, column)):
            value = getattr(row, column)
            found = unstorable(value)
            if found is None:
                continue
            clean, paths = sanitised(value)
            for path in paths:
                findings.append(Finding(model.__tablename__, row.id, row.tenant_id, f"{column}{path}",
                                        found[1] if path == found[0] else "cannot be stored faithfully",
                                        "set to null (characters dropped from text)", repaired=repair))
            if repair:
                setattr(row, column, clean)
        if repair:
            db.session.commit()
    return findings


# --- definitions ------------------------------------------------------------------------------

def _edge_for(moment_text: str) -> str | None:
    """The calendar's nearest edge, written like `moment_text`, when it lies outside."""
    moment = read_moment(moment_text)
    if moment is None or moment.tzinfo is None or in_calendar(moment) is not None:
        return None
    edge = EARLIEST if moment.year < 2000 else LAST_DAY
    return edge.date().isoformat() if len(moment_text) == 10 else edge.isoformat()


def clamped_dates(value: Any) -> tuple[Any, list[str]]:
    """A copy with every date outside the calendar moved to its nearest edge, and the
    changes ("9999-12-31 -> 2999-12-31")."""
    changes: list[str] = []

    def clamp(item: Any) -> Any:
        if isinstance(item, str):
            edge = _edge_for(item)
            if edge is not None:
                changes.append(f"{item[:40]} -> {edge}")
                return edge
            return item
        if isinstance(item, dict):
            return {k: clamp(v) for k, v in item.items()}
        if isinstance(item, list):
            return [clamp(v) for v in item]
        return item

    return clamp(value), changes


def _mend(row: Any, column: str, check, findings: list[Finding], repair: bool) -> str | None:
    """Validate `row.column` with `check`; dates outside the calendar are moved to its edge
    (a finding each, applied when repairing) when that makes it valid. Returns the reason it
    is still invalid, or None."""
    value = getattr(row, column)
    try:
        check(value)
        return None
    except ValidationFailed:
        pass
    clamped, changes = clamped_dates(value)
    try:
        check(clamped)
    except ValidationFailed as exc:
        return exc.message
    for change in changes:
        findings.append(Finding(row.__tablename__, row.id, row.tenant_id, column,
                                "date outside the calendar (1900-2999)", change, repaired=repair))
    if repair:
        setattr(row, column, clamped)
    return None


def _switch_off(workflow: AutomationWorkflow, findings: list[Finding], where: str, reason: str,
                repair: bool) -> None:
    # A workflow that is off harms nothing: switching it on checks every step and says why not.
    if workflow.active:
        findings.append(Finding("automation_workflows", workflow.id, workflow.tenant_id, where, reason,
                                "workflow switched off until someone fixes it", repaired=repair))
        if repair:
            workflow.active = False


def _check_workflow(workflow: AutomationWorkflow, steps: list[AutomationStep], findings: list[Finding],
                    repair: bool) -> None:
    reason = _mend(workflow, "trigger_config", lambda c: validate_trigger(workflow.trigger_type, c), findings, repair)
    if reason:
        _switch_off(workflow, findings, "trigger_config", reason, repair)
    allowlist = db.session.get(Tenant, workflow.tenant_id).webhook_allowlist  # from the identity map after the first
    ids = {s.id for s in steps}
    for step in steps:
        reason = _mend(step, "config", lambda c, s=step: validate_step(s.type, c, allowlist=allowlist, step_ids=ids),
                       findings, repair)
        if reason:
            _switch_off(workflow, findings, f"step {step.position + 1} ({step.type})", reason, repair)


def check_definitions(repair: bool) -> list[Finding]:
    findings: list[Finding] = []
    for segment in _rows(CustomerSegment, CustomerSegment.id > 0):
        reason = _mend(segment, "conditions", lambda c, s=segment: parse_definition(c, s.match), findings, repair)
        if reason:
            findings.append(Finding("customer_segments", segment.id, segment.tenant_id, "conditions", reason,
                                    "left as it is: recalculating it answers 422 until someone fixes it"))
    for batch in _batches(AutomationWorkflow, AutomationWorkflow.id > 0):
        steps_of: dict[int, list[AutomationStep]] = {}
        for step in db.session.scalars(select(AutomationStep).where(
                AutomationStep.workflow_id.in_([w.id for w in batch]))):  # one query for the batch's steps
            steps_of.setdefault(step.workflow_id, []).append(step)
        for workflow in batch:
            _check_workflow(workflow, steps_of.get(workflow.id, []), findings, repair)
        if repair:
            db.session.commit()
    for campaign in _rows(EmailCampaign, EmailCampaign.scheduled_at.isnot(None)):
        if in_calendar(campaign.scheduled_at) is None:
            findings.append(Finding("email_campaigns", campaign.id, campaign.tenant_id, "scheduled_at",
                                    "send time outside the calendar (1900-2999)",
                                    f"moved to {LAST_DAY.isoformat()}", repaired=repair))
            if repair:
                campaign.scheduled_at = LAST_DAY
    if repair:
        db.session.commit()
    return findings


# --- batch follow-ups -------------------------------------------------------------------------

def check_followups(repair: bool) -> list[Finding]:
    """What a large batch left for a worker and whose tries are spent (services/ingest/follow.py):
    its customers' segments, workflows and wake-ups have not followed. Repair hands it back
    to the sweep with its tries reset, once the cause (in the reason) is mended."""
    findings = []
    for row in db.session.scalars(select(IngestFollowup).where(IngestFollowup.failed_at.isnot(None))
                                  .order_by(IngestFollowup.id)):
        activities = sum(len(r.get("activities") or []) for r in row.rounds if isinstance(r, dict))
        findings.append(Finding(
            IngestFollowup.__tablename__, row.id, row.tenant_id, "failed_at",
            f"the follow-up of a batch of {activities} activities failed {row.attempts} times "
            f"(last: {(row.last_error or 'no reason kept')[:200]})",
            "tries reset: the next sweep hands it to a worker", repaired=repair))
        if repair:
            row.failed_at, row.attempts, row.next_try_at = None, 0, utcnow()
    if repair:
        db.session.commit()
    return findings


def examine(*, repair: bool = False) -> list[Finding]:
    """Every finding, in the order found; with repair=True the changes are committed."""
    return check_json_documents(repair) + check_definitions(repair) + check_followups(repair)
