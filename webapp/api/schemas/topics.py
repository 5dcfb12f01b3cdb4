"""Topics (GET/POST /topics, PATCH/DELETE /topics/{id})."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from webapp.api.schemas.common import StrictModel

TopicName = Annotated[str, Field(min_length=1, max_length=100)]
TopicDescription = Annotated[str, Field(max_length=500)]


class TopicIn(StrictModel):
    name: TopicName
    description: TopicDescription | None = None
    default_subscribed: bool = Field(default=True, description=(
        "true (opt-out): everyone subscribed to marketing gets it until they say no; "
        "false (opt-in): only those who said yes get it."))


class TopicPatch(StrictModel):
    name: TopicName | None = None
    description: TopicDescription | None = Field(default=None, description="null or \"\" clears it.")
    default_subscribed: bool | None = Field(default=None, description=(
        "Moves everyone who has not chosen, at once; explicit choices stay."))
    position: Annotated[int, Field(ge=0, le=10_000)] | None = Field(default=None, description=(
        "Move the topic to this place (0 = first) in lists and on the preference centre."))


class TopicOut(BaseModel):
    id: int
    name: str
    description: str | None
    default_subscribed: bool
    position: int
    subscriber_count: int = Field(description="Customers who get marketing email and get this topic.")
    created_at: datetime


class TopicList(BaseModel):
    data: list[TopicOut]
    next_cursor: str | None = Field(description="Always null: an organisation has at most 50 topics.")
