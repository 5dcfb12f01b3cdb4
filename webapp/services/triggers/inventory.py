"""Inventory and waitlist triggers: an event running low, selling out, coming back in stock
(each once per crossing, for an audience the marketer picks by segment), and a waitlist offer
made to one customer. services/events/inventory.py and waitlist.py fire them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator
from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.models import Event
from webapp.services.triggers.base import EVENT_PAYLOAD_FIELDS, Strict, TriggerField, TriggerNames, TriggerType
from webapp.services.triggers.basics import check_segment, first_segment

Id = Annotated[int, Field(ge=1, le=2**31 - 1)]
# A low_inventory trigger re-arms once availability is back this many points above its
# threshold, so 9% -> 11% -> 9% around a 10% threshold fires once.
REARM_MARGIN = 5
DEFAULT_COOLDOWN_MINUTES = 60


def _yes_no(value: Any) -> Any:
    # The builder's select sends the words; the API sends a boolean.
    return {"true": True, "false": False}.get(value, value) if isinstance(value, str) else value


class InventoryTrigger(Strict):
    # The audience: e.g. fans of the artist. Required: a sell-out is news to a chosen group,
    # not to everyone on file.
    segment_id: Id
    # One event; None: any event.
    event_id: Id | None = None
    # People who already hold a ticket for the event are left out.
    exclude_holders: Annotated[bool, BeforeValidator(_yes_no)] = True


class LowInventoryTrigger(InventoryTrigger):
    below_percent: Annotated[int, Field(ge=1, le=99)] = 10
    rearm_percent: Annotated[int, Field(ge=2, le=100)] | None = None

    @model_validator(mode="after")
    def _rearm_above(self):
        if self.rearm_percent is not None and self.rearm_percent <= self.below_percent:
            raise ValueError("rearm_percent must be above below_percent")
        return self


class BackInStockTrigger(InventoryTrigger):
    # Against flapping: not again within this many minutes of the last time it fired.
    cooldown_minutes: Annotated[int, Field(ge=0, le=10_080)] = DEFAULT_COOLDOWN_MINUTES


class WaitlistOfferTrigger(Strict):
    event_id: Id | None = None


def rearm_percent(config: dict[str, Any]) -> int:
    """Where a low_inventory trigger re-arms: its own setting, else REARM_MARGIN points above."""
    below = int(config.get("below_percent", 10))
    return int(config.get("rearm_percent") or min(below + REARM_MARGIN, 100))


def _event_words(config: dict[str, Any], names: TriggerNames) -> str:
    event_id = config.get("event_id")
    return (names.event(event_id) or "an event that was deleted") if event_id else "any event"


def _audience_words(config: dict[str, Any], names: TriggerNames) -> str:
    segment = names.segment(config.get("segment_id")) or "a segment that was deleted"
    holders = ", leaving out ticket holders" if config.get("exclude_holders", True) else ""
    return f"for {segment}{holders}"


def _low(config: dict[str, Any], names: TriggerNames) -> str:
    return (f"Tickets below {int(config.get('below_percent', 10))}% for {_event_words(config, names)} "
            f"{_audience_words(config, names)}")


def _sold_out(config: dict[str, Any], names: TriggerNames) -> str:
    return f"{_event_words(config, names).capitalize()} sells out {_audience_words(config, names)}"


def _back(config: dict[str, Any], names: TriggerNames) -> str:
    return f"Tickets back on sale for {_event_words(config, names)} {_audience_words(config, names)}"


def _offer(config: dict[str, Any], names: TriggerNames) -> str:
    return f"A waitlist offer for {_event_words(config, names)}"


def _check_event(tenant_id: int, config: dict[str, Any]) -> None:
    if config.get("event_id") is not None and db.session.scalar(
            select(Event.id).where(Event.id == config["event_id"], Event.tenant_id == tenant_id)) is None:
        raise ValidationFailed("trigger_config.event_id", "no such event")


def _check_inventory(tenant_id: int, config: dict[str, Any]) -> None:
    check_segment(tenant_id, config)
    _check_event(tenant_id, config)


EVENT_FIELD = TriggerField("event_id", "Event", kind="select", options="events", empty_label="Any event", ids=True)
AUDIENCE_FIELDS = (
    TriggerField("segment_id", "Who hears of it", kind="select", options="segments", ids=True),
    EVENT_FIELD,
    TriggerField("exclude_holders", "Ticket holders", kind="select",
                 options=(("true", "Leave out people who hold a ticket"), ("false", "Include them")),
                 empty_label=None),
)
INVENTORY_MERGE_FIELDS = (*EVENT_PAYLOAD_FIELDS, ("trigger.available", "Tickets left", None),
                          ("trigger.percent_left", "Percent of tickets left", None))

TYPES = (
    TriggerType("low_inventory", "Tickets running low", "as tickets ran low", LowInventoryTrigger, _low,
                fields=(*AUDIENCE_FIELDS,
                        TriggerField("below_percent", "When tickets left fall below (%)", kind="number",
                                     minimum=1, maximum=99),
                        TriggerField("rearm_percent", "Ready again once back above (%)", kind="number", minimum=2,
                                     maximum=100, hint=f"Blank: {REARM_MARGIN} points above the threshold.")),
                merge_fields=INVENTORY_MERGE_FIELDS, check=_check_inventory, starter=first_segment),
    TriggerType("sold_out", "An event sells out", "as an event sold out", InventoryTrigger, _sold_out,
                fields=AUDIENCE_FIELDS, merge_fields=INVENTORY_MERGE_FIELDS, check=_check_inventory,
                starter=first_segment),
    TriggerType("back_in_stock", "Tickets back on sale", "as tickets came back on sale", BackInStockTrigger, _back,
                fields=(*AUDIENCE_FIELDS,
                        TriggerField("cooldown_minutes", "Not again within (minutes)", kind="number", minimum=0,
                                     maximum=10_080, hint=f"Blank: {DEFAULT_COOLDOWN_MINUTES} minutes.")),
                merge_fields=INVENTORY_MERGE_FIELDS, check=_check_inventory, starter=first_segment),
    TriggerType("waitlist_offer", "A waitlist offer", "with a waitlist offer", WaitlistOfferTrigger, _offer,
                fields=(EVENT_FIELD,), check=_check_event,
                merge_fields=(*EVENT_PAYLOAD_FIELDS, ("trigger.offer_url", "Offer link (single use)", None),
                              ("trigger.expires_when", "Offer expires (the venue's clock)", ""),
                              ("trigger.quantity", "Tickets offered", None))),
)
