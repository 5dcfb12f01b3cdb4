"""Signup forms (/forms): the fields a hosted form asks for, the topics it offers, its
wording and double opt-in confirmation email."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from webapp.api.schemas.common import Id, StrictModel

NameMode = Literal["off", "optional", "required"]
FieldKind = Literal["text", "number", "date", "checkbox", "select"]
FormStatus = Literal["active", "archived"]


class CustomField(StrictModel):
    key: Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[a-z][a-z0-9_]*$",
                              description="The customer attribute the answer is stored under, e.g. favourite_genre.")]
    label: Annotated[str, Field(min_length=1, max_length=100, description="What the form shows beside it.")]
    kind: FieldKind = "text"
    required: bool = False
    options: Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=50)] = Field(
        default=[], description="The choices of a select field (required for it, ignored otherwise).")


class FormFields(StrictModel):
    """Email is always asked for."""

    first_name: NameMode = "optional"
    last_name: NameMode = "off"
    custom: Annotated[list[CustomField], Field(max_length=20)] = []


class OfferedTopic(StrictModel):
    id: Id = Field(description="One of your topics (GET /topics).")
    checked: bool = Field(default=False, description="Ticked when the form opens.")


LongText = Annotated[str, Field(min_length=1, max_length=5000)]


class FormIn(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    fields: FormFields | None = None
    topics: Annotated[list[OfferedTopic], Field(max_length=50)] = []
    consent_text: Annotated[str, Field(min_length=1, max_length=2000, description=(
        "Shown beside the button and kept with each consent record. Defaults to a sentence in your "
        "organisation's name."))] | None = None
    double_opt_in: bool = Field(default=True, description=(
        "Subscribe only after a click on the emailed link. Off: new addresses are subscribed at once (an address "
        "that unsubscribed, bounced or complained still has to confirm)."))
    confirmation_subject: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    confirmation_body: Annotated[LongText, Field(description=(
        "Plain text; a blank line starts a paragraph. The confirm button is added below it."))] | None = None
    success_message: Annotated[str, Field(min_length=1, max_length=1000, description=(
        "Shown once the person is subscribed."))] | None = None
    status: FormStatus = "active"


class FormPatch(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    fields: FormFields | None = None
    topics: Annotated[list[OfferedTopic], Field(max_length=50)] | None = None
    consent_text: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    double_opt_in: bool | None = None
    confirmation_subject: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    confirmation_body: LongText | None = None
    success_message: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    status: FormStatus | None = Field(default=None, description="archived: the hosted page answers 404.")


class FormOut(BaseModel):
    id: int
    public_id: str
    name: str
    url: str = Field(description="The hosted page, to link to or open.")
    embed_html: str = Field(description="An <iframe> of the hosted page to paste into a website.")
    fields: FormFields
    topics: list[OfferedTopic]
    consent_text: str
    double_opt_in: bool
    confirmation_subject: str
    confirmation_body: str
    success_message: str
    status: FormStatus
    submissions_count: int
    confirmations_count: int
    created_at: datetime
    updated_at: datetime


class FormPage(BaseModel):
    data: list[FormOut]
    next_cursor: str | None
