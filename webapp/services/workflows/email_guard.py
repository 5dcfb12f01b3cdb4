"""What an email step must not still say when its workflow is switched on.

A workflow mails customers unattended, so the mistakes a campaign's checklist warns about
are refusals here: an empty subject, the placeholder "Add step" put in (in a trial two
customers received exactly "Hello Ava,"; today it starts from the brand kit's design, whose
"Your headline" must not reach anyone either, with the placeholder subject), or a merge tag
that is not a field we know (it renders blank for everyone, silently).
"""

from __future__ import annotations

import re
from typing import Any

from webapp.infra.errors import ValidationFailed
from webapp.mail.design import default_design
from webapp.models import AutomationStep
from webapp.services.merge_tags import unknown_tags
from webapp.services.workflows.steps import send_email

# Placeholders earlier versions of the step editor put in, compared without spaces or quotes.
_OLD_PLACEHOLDERS = ("Hello {{first_name}},", "<p>Hello {{first_name}},</p>", "Hello {{ customer.first_name }},",
                     "<p>Hello {{ customer.first_name | default('there') }},</p>")
_NOISE = re.compile(r"[\s\"']+")


def _normal(text: Any) -> str:
    return _NOISE.sub("", text).lower() if isinstance(text, str) else ""


def _placeholders() -> set[str]:
    return {_normal(text) for text in _OLD_PLACEHOLDERS}


def _starter_texts() -> set[str]:
    """The heading and paragraph a new design starts with ("Your headline", "Tell your fans
    what is on."): a design still holding one of them is not written yet."""
    return {_normal(block.get("text") or block.get("html")) for block in default_design(None)["blocks"]
            if block["type"] in ("heading", "text")} - {""}


def _blocks(design: Any):
    for block in design.get("blocks") or () if isinstance(design, dict) else ():
        yield block
        for column in block.get("columns") or () if block.get("type") == "columns" else ():
            yield from column


def _placeholder_design(design: Any) -> bool:
    starters = _starter_texts()
    return any(_normal(block.get("text") or block.get("html")) in starters for block in _blocks(design)
               if isinstance(block, dict))


def email_step_problem(tenant_id: int, config: dict[str, Any]) -> str | None:
    """Why a send_email step's config cannot go out unattended, or None."""
    subject = (config.get("subject") or "").strip()
    if not subject:
        return "the subject is empty"
    placeholder_body = _normal(config.get("content")) in _placeholders() if config.get("design") is None \
        else _placeholder_design(config["design"])
    if subject == send_email.PLACEHOLDER_SUBJECT:
        return "the email is not written yet: write its subject and message first" if placeholder_body else \
            "the subject is not written yet: write one first"
    if placeholder_body:
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
