"""The runner: runs claimed enrollments' steps until a wait, the end, an exit or a failure.

Each step's effects and the enrollment's move to the next step commit together, so a step
runs once per enrollment; a worker killed mid-step leaves its claim to expire and the step
runs again, and send_email then finds its recipient row already `sent` (committed before
the final "." of the message) and does not send twice. Failures keep their reason and
retry with backoff; after the last attempt the enrollment is `failed`.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.mail.transport import open_transport
from webapp.models import (
    AutomationEnrollment,
    AutomationStep,
    AutomationStepExecution,
    AutomationWorkflow,
    CustomerActivity,
    Tenant,
)
from webapp.services.campaigns.allowance import SendAllowance
from webapp.services.enrollment.goals import ended_before_step
from webapp.services.enrollment.waits import Outcome
from webapp.services.workflows.paths import next_step
from webapp.services.workflows.steps import STEP_TYPES
from webapp.services.workflows.steps.base import BAD_DATA, StepFailed

MAX_ATTEMPTS = 5
# A condition that jumps back could loop: a run stops after this many steps and goes on later.
MAX_STEPS_PER_RUN = 100
PATH_LENGTH = 200  # automation_enrollments.path


def _took(path: str | None, label: str) -> str:
    """The enrollment's path with one more choice ("B", then "B / happened"); the newest
    choices are kept when a loop of jumps makes it long."""
    taken = f"{path} / {label}" if path else label
    return taken if len(taken) <= PATH_LENGTH else "… " + taken[-(PATH_LENGTH - 2):]


def retry_delay(attempts: int) -> timedelta:
    base = float(current_app.config.get("WORKFLOW_RETRY_BASE_SECONDS", 60))
    return timedelta(seconds=min(base * (2 ** max(attempts - 1, 0)), 3600))


def execute_step(runner: Runner, enrollment: AutomationEnrollment, step: AutomationStep) -> Outcome:
    return STEP_TYPES[step.type].handle(runner, enrollment, step, step.config or {})


class Runner:
    """Runs claimed enrollments of one batch; reuses one mail transport for the batch."""

    def __init__(self, token: str, now: datetime, *, live: bool = False, rng: random.Random | None = None):
        """`now` is the batch's clock: fixed when the caller gave one (tests, a controllable
        clock), else `live` and moved on before and after each step, so traces say when a
        step really ran and waits count from then (a batch can take a while at the
        tenant's sending rate). `rng` draws splits' paths (seeded in tests)."""
        self.token = token
        self.now = now
        self.live = live
        self.rng = rng or random.SystemRandom()
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
            self._transport = open_transport(current_app.config["MAIL_URL"], tenant_id=tenant_id)
        return self._transport

    def _mine(self, enrollment_id: int) -> AutomationEnrollment | None:
        return db.session.scalar(select(AutomationEnrollment).where(
            AutomationEnrollment.id == enrollment_id, AutomationEnrollment.claim_token == self.token)
            .execution_options(populate_existing=True))

    def workflow_steps(self, workflow_id: int) -> tuple[AutomationWorkflow, list[AutomationStep]]:
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
            workflow, steps = self.workflow_steps(enrollment.workflow_id)
            if workflow is None or not workflow.active:
                self._release(enrollment, status="held")
                return ran
            step = next((s for s in steps if s.id == enrollment.current_step_id), None)
            if step is None:
                self._finish(enrollment, "completed", "no steps left")
                return ran
            self.tick()
            # Exit conditions and the goal are checked before every step (services/enrollment/goals.py).
            if ended_before_step(enrollment, step, self.now):
                return ran
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
            enrollment.waiting_for = outcome.waiting_for
            self._release(enrollment, status="waiting", next_run_at=outcome.until)
            return False
        if STEP_TYPES[step.type].opens_wait:
            self._close_wait(enrollment, step, outcome.kind, outcome.detail)
        else:
            if enrollment.status == "waiting":  # a step that was held (quiet hours) ran at last
                self._close_hold(enrollment, step)
            self._record(enrollment, step, started, outcome.kind, outcome.detail)
        if outcome.kind == "exited":
            self._finish(enrollment, "exited", outcome.detail)
            return False
        if outcome.path_label:
            enrollment.path = _took(enrollment.path, outcome.path_label)
        if outcome.kind == "jumped":
            target = outcome.target
        else:
            following = next_step(steps, step, outcome.branch)
            target = following.id if following is not None else None
        enrollment.waiting_for, enrollment.awaited_at = None, None
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

    def _close_hold(self, enrollment: AutomationEnrollment, step: AutomationStep) -> None:
        """The hold's trace row ("Held until 08:00 (quiet hours)") stays, marked held and ended."""
        db.session.execute(update(AutomationStepExecution).where(
            AutomationStepExecution.enrollment_id == enrollment.id, AutomationStepExecution.step_id == step.id,
            AutomationStepExecution.outcome == "waiting").values(outcome="held", finished_at=self.now)
            .execution_options(synchronize_session=False))

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
