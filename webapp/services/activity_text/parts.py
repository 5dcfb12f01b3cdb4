"""What a readable sentence is made of: text, links to the tenant's own pages, money and
moments. The domain says what to show; a Jinja macro (templates/_readable.html) renders
the parts, the same way for every activity type."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Text:
    text: str
    css: str = ""
    kind: str = "text"


@dataclass(frozen=True)
class Link:
    """A link to one of the tenant's own rows: a view's endpoint and its arguments."""

    text: str
    endpoint: str
    args: dict[str, Any] = field(default_factory=dict)
    kind: str = "link"


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str | None = None
    kind: str = "money"


@dataclass(frozen=True)
class Moment:
    """A point in time, shown in the tenant's timezone by the page."""

    at: datetime
    kind: str = "moment"


Part = Text | Link | Money | Moment


def joined(items: list[list[Part]], last: str = " and ") -> list[Part]:
    """["A"], ["B"], ["C"] -> A, B and C."""
    out: list[Part] = []
    for n, item in enumerate(items):
        if n:
            out.append(Text(last if n == len(items) - 1 else ", "))
        out.extend(item)
    return out
