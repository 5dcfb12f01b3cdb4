"""Workflows: a trigger enrolls customers into active workflows; their steps run until a
wait, which sets next_run_at; the scheduler picks up due enrollments.

- definitions.py: CRUD of workflows and their ordered steps, activation
- reading.py: pages, counts, enrollments, traces, the steps' email figures
- step_email.py: a send_email step's preview and test sends
- enrolling.py: manual enrollment and the API's trigger call
- triggers.py: what a trigger may say
- steps/: the step types, one module each (config, check, description, form, handler)
- paths.py: where a step sits (main path, or a split's / wait_for's path) and what comes next
- engine.py, claims.py, expired_waits.py, runner.py: running due enrollments

Enrollment by triggers is services/enrollment/. Callers use `workflows.X` for the names
below (the engine's are imported from its modules).
"""

from webapp.services.enrollment import (
    active_workflows,
    closed_reentry_key,
    enroll_event_day,
    enroll_into,
    enroll_selected,
    event_fire_time,
    log_enrolled,
    process_trigger,
)
from webapp.services.workflows.definitions import (
    MAX_STEPS,
    add_step,
    check_activatable,
    create_workflow,
    delete_step,
    delete_workflow,
    reorder_steps,
    set_active,
    update_step,
    update_workflow,
)
from webapp.services.workflows.enrolling import ENROLL_MANY_MAX, enroll_customers, fire_trigger
from webapp.services.workflows.reading import (
    customer_enrollments,
    email_figures,
    enrollment_counts,
    enrollments_page,
    executions_of,
    get_enrollment,
    get_step,
    get_workflow,
    step_counts,
    step_figures,
    steps_of,
    workflow_names,
    workflows_page,
)
from webapp.services.workflows.step_email import preview_step, preview_step_config, test_step

__all__ = [
    "ENROLL_MANY_MAX", "MAX_STEPS", "active_workflows", "add_step", "check_activatable", "closed_reentry_key",
    "create_workflow", "customer_enrollments", "delete_step", "delete_workflow", "enroll_customers",
    "email_figures", "enroll_event_day", "enroll_into", "enroll_selected", "enrollment_counts", "enrollments_page",
    "event_fire_time", "executions_of", "fire_trigger", "get_enrollment", "get_step",
    "get_workflow", "log_enrolled", "preview_step", "preview_step_config", "process_trigger", "reorder_steps",
    "set_active", "step_counts",
    "step_figures", "steps_of", "test_step", "update_step", "update_workflow", "workflow_names", "workflows_page",
]
