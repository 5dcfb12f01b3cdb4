"""Signup forms: the form builder's definitions, the hosted page's submissions and the
double opt-in confirmation.

The modules, each depending only on those listed before it:
  definition    fields, offered topics, texts; create, edit, delete, list; the hosted URL
                and the snippet to paste into a website
  confirmation  the confirmation email and the job body that sends it at the tenant's rate
  submissions   keeping bots out, reading the answers, submitting, confirming

The names callers use are re-exported here: `signup_forms.create_form(...)`.
"""

from webapp.services.signup_forms.confirmation import (
    HEX_COLOUR,
    confirmation_html,
    send_confirmation,
    unsent_signup_ids,
)
from webapp.services.signup_forms.definition import (
    EDITABLE,
    active_form,
    create_form,
    default_texts,
    delete_form,
    embed_snippet,
    forms_page,
    get_form,
    hosted_url,
    offered_topics,
    update_form,
)
from webapp.services.signup_forms.submissions import (
    MIN_FILL_SECONDS,
    PENDING_DAYS,
    RESEND_MINUTES,
    Answers,
    FillProblem,
    LikelyBot,
    Signup,
    check_fill,
    confirm,
    custom_input_name,
    fill_token,
    forget_unconfirmed,
    link_state,
    pending_for_link,
    read_answers,
    submit,
)

__all__ = [
    "EDITABLE", "HEX_COLOUR", "MIN_FILL_SECONDS", "PENDING_DAYS", "RESEND_MINUTES", "Answers", "FillProblem",
    "LikelyBot",
    "Signup", "active_form", "check_fill", "confirm", "confirmation_html", "create_form", "custom_input_name",
    "default_texts", "delete_form", "embed_snippet", "fill_token", "forget_unconfirmed", "forms_page", "get_form",
    "hosted_url",
    "link_state", "offered_topics", "pending_for_link", "read_answers", "send_confirmation", "submit",
    "unsent_signup_ids", "update_form",
]
