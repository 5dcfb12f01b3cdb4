"""The workflow engine: claims due enrollments and runs their steps.

A batch claims enrollments with one conditional UPDATE (claim token + lease, as delivery
claims recipients). Each step's effects and the enrollment's move to the next step commit
together, so a step runs once per enrollment; a worker killed mid-step leaves its claim to
expire and the step runs again, and send_email then finds its recipient row already `sent`
(committed before the final "." of the message) and does not send twice. Failures keep
their reason and retry with backoff; after the last attempt the enrollment is `failed`.
All times come from `now`, so tests move the clock instead of sleeping.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, case, delete, exists, func, insert, or_, select, update
from sqlalchemy.exc import DataError

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.infra.validation import parse_moment
from webapp.models import (
    AutomationEnrollment,
    AutomationStep,
    AutomationStepExecution,
    AutomationWorkflow,
    CampaignRecipient,
    Customer,
    CustomerActivity,
    CustomerTag,
    EmailCampaign,
    Tenant,
)
from webapp.services.campaigns.allowance import SendAllowance
from webapp.services.campaigns.marks import bump_counters, mark_sent, revert_sent, settle_sent
from webapp.services.workflow_config import describe_step

MAX_ATTEMPTS = 5
# Errors that mean a step's stored settings or the data it reads are unusable, as opposed to
# the infrastructure failing (connections, timeouts), which a retry of the job may heal.
BAD_DATA = (ValueError, TypeError, LookupError, ArithmeticError, DataError)
# A condition that jumps back could loop: a run stops after this many steps and goes on later.
MAX_STEPS_PER_RUN = 100


class StepFailed(Exception):
    def __init__(self, reason: str, *, retry: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


@dataclass
class Outcome:
    kind: str  # done | skipped | waiting | exited | jumped
    detail: str = ""
    until: datetime | None = None
    target: int | None = None


def lease() -> timedelta:
    return timedelta(seconds=int(current_app.config.get("WORKFLOW_LEASE_SECONDS", 300)))


def retry_delay(attempts: int) -> timedelta:
    base = float(current_app.config.get("WORKFLOW_RETRY_BASE_SECONDS", 60))
    return timedelta(seconds=min(base * (2 ** max(attempts - 1, 0)), 3600))


# --- finding and claiming work ----------------------------------------------------------------

def _claimable(now: datetime):
    return and_(AutomationEnrollment.status.in_(("active", "waiting")), AutomationEnrollment.next_run_at <= now,
                or_(AutomationEnrollment.claim_token.is_(None), AutomationEnrollment.claimed_at < now - lease()))


def due_enrollment_ids(now: datetime, limit: int = 100_000) -> list[int]:
    active = select(AutomationWorkflow.id).where(AutomationWorkflow.active.is_(True))
    return list(db.session.scalars(select(AutomationEnrollment.id).where(
        _claimable(now), AutomationEnrollment.workflow_id.in_(active))
        .order_by(AutomationEnrollment.next_run_at, AutomationEnrollment.id).limit(limit)))


def claim(ids: list[int], now: datetime) -> tuple[str, list[int]]:
    token = uuid.uuid4().hex
    if not ids:
        return token, []
    claimed = list(db.session.scalars(
        update(AutomationEnrollment).where(AutomationEnrollment.id.in_(ids), _claimable(now))
        .values(claim_token=token, claimed_at=now).returning(AutomationEnrollment.id)))
    db.session.commit()
    return token, sorted(claimed)


def run_batch(ids: list[int], *, now: datetime | None = None) -> dict[str, int]:
    """Claim what is still due among `ids` and run each claimed enrollment's steps."""
    live = now is None
    now = now or utcnow()
    token, claimed = claim(ids, now)
    counts = {"claimed": len(claimed), "steps": 0}
    if not claimed:
        return counts
    remaining = advance_expired_waits(token, claimed, now)
    runner = Runner(token, now, live=live)
    # Half the lease: a batch slowed down (the tenant's sending rate, slow webhooks) hands
    # back what it has not started, still due, before its claim could run out under it.
    hand_back_at = time.monotonic() + lease().total_seconds() / 2
    try:
        for index, enrollment_id in enumerate(remaining):
            if time.monotonic() >= hand_back_at:
                counts["handed_back"] = release_claims(token, remaining[index:])
                break
            counts["steps"] += runner.run(enrollment_id)
    finally:
        runner.close()
    return counts


def release_claims(token: str, ids: list[int]) -> int:
    """Unclaim enrollments of this claim that were not run: the next sweep finds them due."""
    released = db.session.execute(
        update(AutomationEnrollment)
        .where(AutomationEnrollment.id.in_(ids), AutomationEnrollment.claim_token == token)
        .values(claim_token=None, claimed_at=None)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return released


def run_due(*, now: datetime | None = None, limit: int = 100_000) -> dict[str, int]:
    """Everything due now, in this process (tests and the browser walkthrough use it)."""
    now = now or utcnow()
    ids = due_enrollment_ids(now, limit)
    totals = {"claimed": 0, "steps": 0}
    for start in range(0, len(ids), 500):
        result = run_batch(ids[start:start + 500], now=now)
        totals = {k: totals[k] + result[k] for k in totals}
    return totals


# --- the bulk path: waits that ran out ---------------------------------------------------------

def advance_expired_waits(token: str, ids: list[int], now: datetime) -> list[int]:
    """Set-based first pass over a claimed batch: enrollments whose wait step has run out
    pass it together (their executions closed, then on to the next step or completed) in a
    few statements and one commit. Returns the ids that still need the step-by-step runner.

    A big "due at once" (a wait shared by thousands) is mostly this; other steps need the
    customer and external effects, and go one by one."""
    from datetime import timedelta as _td

    rows = db.session.execute(select(
        AutomationEnrollment.id, AutomationEnrollment.workflow_id, AutomationEnrollment.current_step_id,
        AutomationEnrollment.step_entered_at, AutomationEnrollment.tenant_id, AutomationEnrollment.customer_id)
        .where(AutomationEnrollment.id.in_(ids), AutomationEnrollment.claim_token == token,
               AutomationEnrollment.status.in_(("active", "waiting")))).all()
    workflow_ids = {r.workflow_id for r in rows}
    if not workflow_ids:
        return ids
    active = set(db.session.scalars(select(AutomationWorkflow.id).where(
        AutomationWorkflow.id.in_(workflow_ids), AutomationWorkflow.active.is_(True))))
    steps: dict[int, list[AutomationStep]] = {}
    for step in db.session.scalars(select(AutomationStep).where(AutomationStep.workflow_id.in_(workflow_ids))
                                   .order_by(AutomationStep.position, AutomationStep.id)):
        steps.setdefault(step.workflow_id, []).append(step)
    passed: dict[int | None, list] = {}  # next step id (None: the end) -> rows
    for row in rows:
        ordered = steps.get(row.workflow_id, [])
        index = next((i for i, s in enumerate(ordered) if s.id == row.current_step_id), None)
        if row.workflow_id not in active or index is None or ordered[index].type != "wait":
            continue
        config = ordered[index].config or {}
        try:
            delta = _td(minutes=config.get("minutes", 0), hours=config.get("hours", 0), days=config.get("days", 0))
        except BAD_DATA:
            continue  # a wait it cannot read: the runner fails that enrollment, with the reason
        if row.step_entered_at is None or row.step_entered_at + delta > now:
            continue
        following = ordered[index + 1].id if index + 1 < len(ordered) else None
        passed.setdefault(following, []).append(row)
    if not passed:
        return ids
    done_ids = [r.id for group in passed.values() for r in group]
    current = {r.id: r.current_step_id for group in passed.values() for r in group}
    waiting = set(db.session.scalars(select(AutomationStepExecution.enrollment_id).where(
        AutomationStepExecution.enrollment_id.in_(done_ids), AutomationStepExecution.outcome == "waiting")))
    db.session.execute(update(AutomationStepExecution).where(
        AutomationStepExecution.enrollment_id.in_(done_ids), AutomationStepExecution.outcome == "waiting")
        .values(outcome="done", finished_at=now, detail="the wait is over").execution_options(
            synchronize_session=False))
    missing = [i for i in done_ids if i not in waiting]
    if missing:
        tenant_of = {r.id: r.tenant_id for group in passed.values() for r in group}
        db.session.execute(insert(AutomationStepExecution.__table__), [
            {"tenant_id": tenant_of[i], "enrollment_id": i, "step_id": current[i], "step_type": "wait",
             "started_at": now, "finished_at": now, "outcome": "done", "detail": "the wait is over"}
            for i in missing])
    mine = and_(AutomationEnrollment.claim_token == token)
    finished = passed.pop(None, [])
    if finished:
        db.session.execute(update(AutomationEnrollment).where(
            mine, AutomationEnrollment.id.in_([r.id for r in finished])).values(
            status="completed", current_step_id=None, finished_at=now, next_run_at=None, claim_token=None,
            claimed_at=None, attempts=0, last_error=None,
            reentry_key=case((AutomationEnrollment.reentry_key == "open", None),
                             else_=AutomationEnrollment.reentry_key)).execution_options(synchronize_session=False))
        db.session.execute(insert(CustomerActivity.__table__), [
            {"tenant_id": r.tenant_id, "customer_id": r.customer_id, "type": "workflow_completed",
             "properties": {"workflow_id": r.workflow_id, "enrollment_id": r.id, "status": "completed"},
             "occurred_at": now, "created_at": now} for r in finished])
    for following, group in passed.items():
        db.session.execute(update(AutomationEnrollment).where(
            mine, AutomationEnrollment.id.in_([r.id for r in group])).values(
            current_step_id=following, step_entered_at=now, status="active", attempts=0, last_error=None)
            .execution_options(synchronize_session=False))
    db.session.commit()
    finished_ids = {r.id for r in finished}
    return [i for i in ids if i not in finished_ids]


# --- running ----------------------------------------------------------------------------------

class Runner:
    """Runs claimed enrollments of one batch; reuses one mail transport for the batch."""

    def __init__(self, token: str, now: datetime, *, live: bool = False):
        """`now` is the batch's clock: fixed when the caller gave one (tests, a controllable
        clock), else `live` and moved on before and after each step, so traces say when a
        step really ran and waits count from then (a batch can take a while at the
        tenant's sending rate)."""
        self.token = token
        self.now = now
        self.live = live
        self._transport = None
        self._steps: dict[int, list[AutomationStep]] = {}
        self._workflows: dict[int, AutomationWorkflow] = {}
        self._tenants: dict[int, Tenant] = {}
        self._allowances: dict[int, SendAllowance] = {}

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def transport(self, tenant_id: int):
        if self._transport is None:
            from webapp.mail.transport import open_transport

            self._transport = open_transport(current_app.config["MAIL_URL"], tenant_id=tenant_id)
        return self._transport

    def _mine(self, enrollment_id: int) -> AutomationEnrollment | None:
        return db.session.scalar(select(AutomationEnrollment).where(
            AutomationEnrollment.id == enrollment_id, AutomationEnrollment.claim_token == self.token)
            .execution_options(populate_existing=True))

    def _workflow_steps(self, workflow_id: int) -> tuple[AutomationWorkflow, list[AutomationStep]]:
        if workflow_id not in self._workflows:
            self._workflows[workflow_id] = db.session.get(AutomationWorkflow, workflow_id)
            self._steps[workflow_id] = list(db.session.scalars(
                select(AutomationStep).where(AutomationStep.workflow_id == workflow_id)
                .order_by(AutomationStep.position, AutomationStep.id)))
        return self._workflows[workflow_id], self._steps[workflow_id]

    def allowance(self, tenant_id: int) -> SendAllowance:
        """The tenant's sending rate, shared with its campaigns' delivery."""
        if tenant_id not in self._allowances:
            self._allowances[tenant_id] = SendAllowance(tenant_id, self.tenant(tenant_id).send_rate_per_second)
        return self._allowances[tenant_id]

    def tick(self) -> None:
        if self.live:
            self.now = utcnow()

    def tenant(self, tenant_id: int) -> Tenant:
        if tenant_id not in self._tenants:
            self._tenants[tenant_id] = db.session.get(Tenant, tenant_id)
        return self._tenants[tenant_id]

    def run(self, enrollment_id: int) -> int:
        """Run steps until a wait, the end, an exit or a failure; returns steps run."""
        ran = 0
        while ran < MAX_STEPS_PER_RUN:
            enrollment = self._mine(enrollment_id)
            if enrollment is None or enrollment.status not in ("active", "waiting"):
                db.session.commit()
                return ran  # the claim was taken over, or someone ended it meanwhile
            workflow, steps = self._workflow_steps(enrollment.workflow_id)
            if workflow is None or not workflow.active:
                self._release(enrollment, status="held")
                return ran
            step = next((s for s in steps if s.id == enrollment.current_step_id), None)
            if step is None:
                self._finish(enrollment, "completed", "no steps left")
                return ran
            self.tick()
            started = self.now
            try:
                try:
                    outcome = execute_step(self, enrollment, step)
                except BAD_DATA as exc:
                    # A step saved by an older version (or data it reads) that this one cannot
                    # use: that enrollment fails with the reason; the batch goes on with the rest.
                    raise StepFailed(f"the step cannot run on its saved settings or this customer's data "
                                     f"({type(exc).__name__}: {str(exc)[:300]})", retry=False) from exc
            except StepFailed as exc:
                self.tick()
                db.session.rollback()
                enrollment = self._mine(enrollment_id)
                if enrollment is not None:
                    self._fail(enrollment, step, started, exc)
                return ran + 1
            ran += 1
            self.tick()
            if not self._apply(enrollment, step, steps, started, outcome):
                return ran
        # Still going after many steps (a loop of jumps): continue on a later run.
        enrollment = self._mine(enrollment_id)
        if enrollment is not None:
            self._release(enrollment, next_run_at=self.now)
        return ran

    # --- what a step's outcome does to the enrollment ---

    def _record(self, enrollment: AutomationEnrollment, step: AutomationStep, started: datetime, outcome: str,
                detail: str, *, finished: bool = True) -> None:
        db.session.add(AutomationStepExecution(
            tenant_id=enrollment.tenant_id, enrollment_id=enrollment.id, step_id=step.id, step_type=step.type,
            started_at=started, finished_at=self.now if finished else None, outcome=outcome, detail=detail[:2000]))

    def _apply(self, enrollment: AutomationEnrollment, step: AutomationStep, steps: list[AutomationStep],
               started: datetime, outcome: Outcome) -> bool:
        """Record the outcome and move the enrollment; True when the run goes on."""
        if outcome.kind == "waiting":
            if enrollment.status != "waiting" or enrollment.next_run_at != outcome.until:
                self._record(enrollment, step, started, "waiting", outcome.detail, finished=False)
            self._release(enrollment, status="waiting", next_run_at=outcome.until)
            return False
        if step.type in ("wait", "wait_until"):
            self._close_wait(enrollment, step, outcome.kind, outcome.detail)
        else:
            self._record(enrollment, step, started, outcome.kind, outcome.detail)
        if outcome.kind == "exited":
            self._finish(enrollment, "exited", outcome.detail)
            return False
        if outcome.kind == "jumped":
            target = outcome.target
        else:
            later = [s for s in steps if (s.position, s.id) > (step.position, step.id)]
            target = later[0].id if later else None
        if target is None:
            self._finish(enrollment, "completed", "all steps done")
            return False
        enrollment.current_step_id = target
        enrollment.step_entered_at = self.now
        enrollment.status = "active"
        enrollment.attempts = 0
        enrollment.last_error = None
        db.session.commit()
        return True

    def _close_wait(self, enrollment: AutomationEnrollment, step: AutomationStep, outcome: str,
                    detail: str) -> None:
        """The wait's trace row (opened "waiting" when the wait began) gets its outcome: done,
        or skipped when there was nothing to wait for."""
        waiting = db.session.scalar(select(AutomationStepExecution).where(
            AutomationStepExecution.enrollment_id == enrollment.id, AutomationStepExecution.step_id == step.id,
            AutomationStepExecution.outcome == "waiting").order_by(AutomationStepExecution.id.desc()).limit(1))
        if waiting is None:
            self._record(enrollment, step, self.now, outcome, detail)
        else:
            waiting.outcome, waiting.finished_at, waiting.detail = outcome, self.now, detail

    def _release(self, enrollment: AutomationEnrollment, *, status: str | None = None,
                 next_run_at: datetime | None = None) -> None:
        if status is not None:
            enrollment.status = status
        if next_run_at is not None:
            enrollment.next_run_at = next_run_at
        enrollment.claim_token = None
        enrollment.claimed_at = None
        db.session.commit()

    def _finish(self, enrollment: AutomationEnrollment, status: str, reason: str) -> None:
        enrollment.status = status
        enrollment.finished_at = self.now
        enrollment.next_run_at = None
        enrollment.claim_token = None
        enrollment.claimed_at = None
        if status == "completed":
            enrollment.current_step_id = None
        else:
            enrollment.exit_reason = reason[:2000]
        if enrollment.reentry_key == "open":
            enrollment.reentry_key = None
        db.session.add(CustomerActivity(
            tenant_id=enrollment.tenant_id, customer_id=enrollment.customer_id,
            type="workflow_completed" if status == "completed" else "workflow_exited",
            properties={"workflow_id": enrollment.workflow_id, "enrollment_id": enrollment.id, "status": status,
                        **({"reason": reason[:500]} if status != "completed" else {})},
            occurred_at=self.now, created_at=self.now))
        db.session.commit()

    def _fail(self, enrollment: AutomationEnrollment, step: AutomationStep, started: datetime,
              exc: StepFailed) -> None:
        enrollment.attempts = (enrollment.attempts or 0) + 1
        enrollment.last_error = exc.reason[:2000]
        if exc.retry and enrollment.attempts < MAX_ATTEMPTS:
            due = self.now + retry_delay(enrollment.attempts)
            self._record(enrollment, step, started, "retry",
                         f"{exc.reason} (attempt {enrollment.attempts} of {MAX_ATTEMPTS}; next at {due.isoformat()})")
            self._release(enrollment, status="active", next_run_at=due)
            return
        tries = f" after {enrollment.attempts} attempts" if exc.retry else ""
        self._record(enrollment, step, started, "failed", f"{exc.reason}{tries}")
        self._finish(enrollment, "failed", f"step {step.position + 1} ({step.type}) failed{tries}: {exc.reason}")


# --- the steps --------------------------------------------------------------------------------

def execute_step(runner: Runner, enrollment: AutomationEnrollment, step: AutomationStep) -> Outcome:
    handler = HANDLERS[step.type]
    return handler(runner, enrollment, step, step.config or {})


def wait_outcome(step_type: str, config: dict, *, entered_at: datetime, payload: dict | None,
                 now: datetime) -> Outcome:
    """What a wait or wait_until step entered at `entered_at` says at `now`: still waiting
    (until when, and the trace's detail), done, or skipped. Triggers use it to start a
    workflow that opens with a wait without a job; the runner uses it for every wait."""
    if step_type == "wait":
        delta = timedelta(minutes=config.get("minutes", 0), hours=config.get("hours", 0),
                          days=config.get("days", 0))
        due = entered_at + delta
        if now < due:
            return Outcome("waiting", f"{describe_step('wait', config).lower()}, until {due.isoformat()}", until=due)
        return Outcome("done", f"waited until {due.isoformat()}")
    if "at" in config:
        # Saved steps are checked against the same calendar; one saved by an older version
        # may lie outside it, and is skipped with the reason rather than failing the trigger.
        found = parse_moment(config["at"])
        if found is None:
            return Outcome("skipped", f"the date to wait until ({str(config['at'])[:40]}) is outside the "
                                      "calendar (1900-2999): not waited")
        due = found
    else:
        # The trigger's payload is whatever the caller sent (POST /triggers): read it warily.
        event = (payload or {}).get("event")
        text = event.get("starts_at") if isinstance(event, dict) else None
        if text is None:
            return Outcome("skipped", "no event start time in the trigger: nothing to wait for")
        try:
            starts = datetime.fromisoformat(str(text))
        except ValueError:
            return Outcome("skipped", "no event start time in the trigger: nothing to wait for")
        if starts.tzinfo is None:
            return Outcome("skipped", "the event start time has no timezone: nothing to wait for")
        starts = parse_moment(text)
        if starts is None:
            return Outcome("skipped", "the event start time is out of range: nothing to wait for")
        due = starts - timedelta(hours=int(config.get("before_event_hours", 0)))
    if now < due:
        return Outcome("waiting", f"waiting until {due.isoformat()}", until=due)
    if entered_at >= due:
        return Outcome("skipped", f"{due.isoformat()} had passed when the customer reached this step: not waited")
    return Outcome("done", f"waited until {due.isoformat()}")


def _wait(runner: Runner, enrollment: AutomationEnrollment, step: AutomationStep, config: dict) -> Outcome:
    return wait_outcome("wait", config, entered_at=enrollment.step_entered_at or runner.now, payload=None,
                        now=runner.now)


def _wait_until(runner: Runner, enrollment: AutomationEnrollment, step: AutomationStep, config: dict) -> Outcome:
    return wait_outcome("wait_until", config, entered_at=enrollment.step_entered_at or runner.now,
                        payload=enrollment.trigger_payload, now=runner.now)


def _condition(runner: Runner, enrollment: AutomationEnrollment, step: AutomationStep, config: dict) -> Outcome:
    from webapp.segments.compiler import Compiler
    from webapp.segments.definition import parse_definition

    group = parse_definition(config.get("conditions") or [], config.get("match", "all"))
    compiler = Compiler(enrollment.tenant_id, db.session.get_bind().dialect.name, runner.now)
    met = db.session.scalar(select(exists().where(Customer.id == enrollment.customer_id,
                                                  Customer.tenant_id == enrollment.tenant_id, compiler.group(group))))
    if met:
        return Outcome("done", "conditions met")
    else_step = config.get("else_step")
    if else_step:
        _, steps = runner._workflow_steps(enrollment.workflow_id)
        if any(s.id == else_step for s in steps):
            return Outcome("jumped", f"conditions not met: jumped to step #{else_step}", target=else_step)
    return Outcome("exited", "conditions not met")


def _tag_changed(enrollment: AutomationEnrollment, activity_type: str, tag: str, now: datetime) -> None:
    from webapp.services.segments import refresh_customer_segments

    db.session.execute(insert(CustomerActivity.__table__).values(
        tenant_id=enrollment.tenant_id, customer_id=enrollment.customer_id, type=activity_type,
        properties={"tag": tag, "workflow_id": enrollment.workflow_id}, occurred_at=now, created_at=now))
    db.session.execute(update(Customer).where(Customer.id == enrollment.customer_id).values(updated_at=now)
                       .execution_options(synchronize_session=False))
    refresh_customer_segments(enrollment.tenant_id, enrollment.customer_id)


def _add_tag(runner: Runner, enrollment: AutomationEnrollment, step: AutomationStep, config: dict) -> Outcome:
    from webapp.infra.sql import insert_ignoring_duplicates

    tag = config["tag"]
    added = db.session.execute(insert_ignoring_duplicates(CustomerTag.__table__).values(
        customer_id=enrollment.customer_id, tenant_id=enrollment.tenant_id, tag=tag)).rowcount
    if not added:
        return Outcome("done", f"already tagged {tag}")
    _tag_changed(enrollment, "tag_added", tag, runner.now)
    return Outcome("done", f"tag {tag} added")


def _remove_tag(runner: Runner, enrollment: AutomationEnrollment, step: AutomationStep, config: dict) -> Outcome:
    tag = config["tag"]
    removed = db.session.execute(delete(CustomerTag).where(CustomerTag.customer_id == enrollment.customer_id,
                                                           CustomerTag.tag == tag)).rowcount
    if not removed:
        return Outcome("done", f"did not have tag {tag}")
    _tag_changed(enrollment, "tag_removed", tag, runner.now)
    return Outcome("done", f"tag {tag} removed")


def _update_attribute(runner: Runner, enrollment: AutomationEnrollment, step: AutomationStep,
                      config: dict) -> Outcome:
    from webapp.services.segments import refresh_customer_segments

    customer = db.session.get(Customer, enrollment.customer_id)
    attributes = dict(customer.attributes or {})
    key, value = config["key"], config.get("value")
    if value is None:
        attributes.pop(key, None)
    else:
        attributes[key] = value
    customer.attributes = attributes
    customer.updated_at = runner.now
    db.session.flush()
    refresh_customer_segments(enrollment.tenant_id, customer.id)
    return Outcome("done", f"{key} set to {value!r}" if value is not None else f"{key} removed")


def _webhook(runner: Runner, enrollment: AutomationEnrollment, step: AutomationStep, config: dict) -> Outcome:
    from webapp.api.serializers import customer_dict
    from webapp.infra.outbound import WebhookFailed, WebhookRefused, post_json

    customer = db.session.get(Customer, enrollment.customer_id)
    workflow, _ = runner._workflow_steps(enrollment.workflow_id)
    body = {"event": "workflow.step", "workflow": {"id": workflow.id, "name": workflow.name},
            "step_id": step.id, "enrollment_id": enrollment.id, "customer": customer_dict(customer),
            "trigger": {"type": enrollment.trigger_type, "payload": enrollment.trigger_payload or {}},
            "sent_at": runner.now.isoformat()}
    # End the read transaction first: nothing stays locked while the remote server thinks.
    db.session.commit()
    try:
        answer = post_json(config["url"], body, allowlist=runner.tenant(enrollment.tenant_id).webhook_allowlist)
    except WebhookRefused as exc:
        raise StepFailed(f"webhook refused: {exc}", retry=False) from None
    except WebhookFailed as exc:
        raise StepFailed(f"webhook failed: {exc}") from None
    return Outcome("done", f"POST {config['url']}: {answer}")


# --- send_email: the campaign machinery, one recipient row per enrollment ----------------------

def _random_token() -> str:
    return uuid.uuid4().hex


def _recipient(campaign_id: int, enrollment: AutomationEnrollment, email: str) -> CampaignRecipient:
    from webapp.infra.sql import insert_ignoring_duplicates

    created = db.session.execute(insert_ignoring_duplicates(CampaignRecipient.__table__).values(
        campaign_id=campaign_id, tenant_id=enrollment.tenant_id, customer_id=enrollment.customer_id, email=email,
        batch_no=0, status="pending", token=_random_token(), attempts=0, enrollment_id=enrollment.id)).rowcount
    if created:
        bump_counters(campaign_id, recipients_count=1)
    return db.session.scalar(select(CampaignRecipient).where(
        CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.customer_id == enrollment.customer_id,
        CampaignRecipient.enrollment_id == enrollment.id).execution_options(populate_existing=True))


def _send_email(runner: Runner, enrollment: AutomationEnrollment, step: AutomationStep, config: dict) -> Outcome:
    from webapp.mail.templating import RenderFailed
    from webapp.services.campaigns.rendering import render_for, sender_of

    campaign = db.session.get(EmailCampaign, step.campaign_id) if step.campaign_id else None
    if campaign is None:
        raise StepFailed("the step has no email to send (its campaign is missing)", retry=False)
    customer = db.session.get(Customer, enrollment.customer_id)
    if customer.email_status != "subscribed":
        recipient = _recipient(campaign.id, enrollment, customer.email)
        if recipient.status not in ("sent", "skipped"):
            db.session.execute(update(CampaignRecipient).where(CampaignRecipient.id == recipient.id)
                               .values(status="skipped", error=f"customer is {customer.email_status}"))
            bump_counters(campaign.id, skipped_count=1)
        return Outcome("skipped", f"not sent: the customer is {customer.email_status}")
    recipient = _recipient(campaign.id, enrollment, customer.email)
    if recipient.status == "sent":
        return Outcome("done", f"already sent ({recipient.message_id}); not sent again")
    runner.allowance(enrollment.tenant_id).wait()
    claim_token = uuid.uuid4().hex
    db.session.execute(update(CampaignRecipient).where(CampaignRecipient.id == recipient.id).values(
        status="sending", claim_token=claim_token, claimed_at=runner.now, attempts=CampaignRecipient.attempts + 1)
        .execution_options(synchronize_session=False))
    db.session.commit()
    tenant = runner.tenant(enrollment.tenant_id)
    try:
        composed = render_for(campaign, tenant, customer, to=recipient.email, token=recipient.token,
                              extra={"trigger": dict(enrollment.trigger_payload or {})}, track=True)
    except RenderFailed as exc:
        _settle(recipient.id, campaign.id, "failed", f"could not render: {exc}")
        raise StepFailed(f"could not render the email: {exc}", retry=False) from None

    def commit() -> bool:
        return bool(mark_sent([(recipient, composed.message_id)], claim_token,
                              {"workflow_id": enrollment.workflow_id, "enrollment_id": enrollment.id}))

    outcome = runner.transport(enrollment.tenant_id).send(
        sender_of(campaign, tenant)[1], recipient.email, composed.message.as_bytes(), commit=commit,
        subject=composed.subject, message_id=composed.message_id)
    settle_sent()
    if outcome.status == "sent":
        return Outcome("done", f"sent “{composed.subject}” ({composed.message_id})")
    if outcome.status == "lost":
        raise StepFailed("another worker took this step over")
    revert_sent(recipient, claim_token)  # the server refused after the data: undo the "sent"
    db.session.commit()
    if outcome.status == "permanent":
        _settle(recipient.id, campaign.id, "failed", outcome.detail)
        raise StepFailed(f"the mail server refused the message: {outcome.detail}", retry=False)
    db.session.execute(update(CampaignRecipient).where(CampaignRecipient.id == recipient.id)
                       .values(status="pending", claim_token=None, error=outcome.detail[:2000]))
    db.session.commit()
    raise StepFailed(f"sending failed: {outcome.detail}")


def _settle(recipient_id: int, campaign_id: int, status: str, error: str) -> None:
    db.session.execute(update(CampaignRecipient).where(CampaignRecipient.id == recipient_id)
                       .values(status=status, error=error[:2000], claim_token=None))
    bump_counters(campaign_id, **{f"{status}_count": 1})
    db.session.commit()


HANDLERS: dict[str, Any] = {
    "send_email": _send_email,
    "wait": _wait,
    "wait_until": _wait_until,
    "condition": _condition,
    "add_tag": _add_tag,
    "remove_tag": _remove_tag,
    "update_attribute": _update_attribute,
    "webhook": _webhook,
}


def step_figures(campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """sent/skipped/failed and people's unique opens and clicks of the steps' hidden
    campaigns: counters and hourly rollups, as the campaign report reads them."""
    from webapp.models import CampaignEngagementHour

    if not campaign_ids:
        return {}
    hours = CampaignEngagementHour
    engaged = {row[0]: (int(row[1]), int(row[2])) for row in db.session.execute(
        select(hours.campaign_id, func.coalesce(func.sum(hours.human_unique_opens), 0),
               func.coalesce(func.sum(hours.human_unique_clicks), 0))
        .where(hours.campaign_id.in_(campaign_ids)).group_by(hours.campaign_id))}
    out = {}
    for campaign in db.session.scalars(select(EmailCampaign).where(EmailCampaign.id.in_(campaign_ids))):
        opened, clicked = engaged.get(campaign.id, (0, 0))
        out[campaign.id] = {"sent": campaign.sent_count or 0, "skipped": campaign.skipped_count or 0,
                            "failed": campaign.failed_count or 0, "opened": opened, "clicked": clicked}
    return out

