"""Enrollment: how triggers put customers into active workflows (set-based), the waits a
workflow may open with, the event_day sweep, and the activities that wake wait_for steps.
Below segments and the customer-changed path, which call it; running the steps is
services/workflows/ (engine, runner, steps)."""

from webapp.services.enrollment.active import ActiveWorkflow, active_workflows, matches
from webapp.services.enrollment.awaiting import match_awaited, wake_awaiting
from webapp.services.enrollment.enroll import (
    closed_reentry_key,
    enroll_into,
    enroll_selected,
    log_enrolled,
    process_trigger,
    process_triggers,
)
from webapp.services.enrollment.event_day import enroll_event_day, event_fire_time
from webapp.services.enrollment.waits import Outcome, describe_wait, wait_outcome

__all__ = ["ActiveWorkflow", "Outcome", "active_workflows", "closed_reentry_key", "describe_wait",
           "enroll_event_day", "enroll_into", "enroll_selected", "event_fire_time", "log_enrolled", "match_awaited",
           "matches", "process_trigger", "process_triggers", "wait_outcome", "wake_awaiting"]
