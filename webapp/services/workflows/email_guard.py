"""What an email step must not still say when its workflow is switched on.

A workflow mails customers unattended, so the mistakes a campaign's checklist warns about
are refusals here: an empty subject, the placeholder "Add step" put in (in a trial two
customers received exactly "Hello Ava,"), or a merge tag that is not a field we know (it
renders blank for everyone, silently).
"""

from __future__ import annotations

import re
from typing import Any

from webapp.infra.errors import ValidationFailed
from webapp.models import AutomationStep
from webapp.services.merge_tags import unknown_tags
from webapp.services.workflows.steps import send_email

# Placeholders earlier versions of the step editor put in, compared without spaces or quotes.
_OLD_PLACEHOLDERS = ("Hello {{first_name}},", "<p>Hello {{first_name}},</p>", "Hello {{ customer.first_name }},")
_NOISE = re.compile(r"[\s\"']+")


def _normal(text: Any) -> str:
    return _NOISE.sub("", text).lower() if isinstance(text, str) else ""


def _placeholders() -> set[str]:
    return {_normal(text) for text in (*_OLD_PLACEHOLDERS, send_email.STEP.default_config.get("content"))} - {""}


def email_step_problem(tenant_id: int, config: dict[str, Any]) -> str | None:
    """Why a send_email step's config cannot go out unattended, or None."""
    if not (config.get("subject") or "").strip():
        return "the subject is empty"
    default_design = send_email.STEP.default_config.get("design")
    if _normal(config.get("content")) in _placeholders() or (
            default_design is not None and config.get("design") == default_design):
        return "the email is still the placeholder text: write the message first"
    sources = {field: config.get(field) for field in ("subject", "preheader", "content")}
    warnings = unknown_tags(tenant_id, sources, workflow=True)
    if warnings:
        return f"{warnings[0].message}" + (f" (and {len(warnings) - 1} more)" if len(warnings) > 1 else "")
    return None


def check_email_steps(tenant_id: int, steps: list[AutomationStep]) -> None:
    """Raise ValidationFailed("active", ...) naming the first email step that is not ready."""
    for n, step in enumerate(steps, 1):
        if step.type != "send_email":
            continue
        problem = email_step_problem(tenant_id, step.config or {})
        if problem:
            raise ValidationFailed("active", f"step {n} (send email): {problem}")
