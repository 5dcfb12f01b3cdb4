"""Waits: what a wait or wait_until step says at a moment (still waiting, done, skipped).

Enrollment uses the rule to start a workflow that opens with a wait without a job; the
runner uses it for every wait; the step's description in the builder reads describe_wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from webapp.infra.validation import parse_moment


@dataclass
class Outcome:
    kind: str  # done | skipped | waiting | exited | jumped
    detail: str = ""
    until: datetime | None = None
    target: int | None = None
    # A split's or wait_for's chosen path (its index) and what the enrollment's path records.
    branch: int | None = None
    path_label: str | None = None
    # A wait_for step: the activity type it waits for, while waiting.
    waiting_for: str | None = None



def describe_wait(config: dict[str, Any]) -> str:
    """"Wait 2 days": one line for the builder and the trace."""
    for unit in ("minutes", "hours", "days"):
        if unit in config:
            n = config[unit]
            return f"Wait {n} {unit if n != 1 else unit[:-1]}"
    return "wait"


def wait_outcome(step_type: str, config: dict, *, entered_at: datetime, payload: dict | None,
                 now: datetime) -> Outcome:
    """What a wait or wait_until step entered at `entered_at` says at `now`: still waiting
    (until when, and the trace's detail), done, or skipped. Triggers use it to start a
    workflow that opens with a wait without a job; the runner uses it for every wait."""
    if step_type == "wait":
        delta = timedelta(minutes=config.get("minutes", 0), hours=config.get("hours", 0),
                          days=config.get("days", 0))
        due = entered_at + delta
        if now < due:
            return Outcome("waiting", f"{describe_wait(config).lower()}, until {due.isoformat()}", until=due)
        return Outcome("done", f"waited until {due.isoformat()}")
    if "at" in config:
        # Saved steps are checked against the same calendar; one saved by an older version
        # may lie outside it, and is skipped with the reason rather than failing the trigger.
        found = parse_moment(config["at"])
        if found is None:
            return Outcome("skipped", f"the date to wait until ({str(config['at'])[:40]}) is outside the "
                                      "calendar (1900-2999): not waited")
        due = found
    else:
        # The trigger's payload is whatever the caller sent (POST /triggers): read it warily.
        event = (payload or {}).get("event")
        text = event.get("starts_at") if isinstance(event, dict) else None
        if text is None:
            return Outcome("skipped", "no event start time in the trigger: nothing to wait for")
        try:
            starts = datetime.fromisoformat(str(text))
        except ValueError:
            return Outcome("skipped", "no event start time in the trigger: nothing to wait for")
        if starts.tzinfo is None:
            return Outcome("skipped", "the event start time has no timezone: nothing to wait for")
        starts = parse_moment(text)
        if starts is None:
            return Outcome("skipped", "the event start time is out of range: nothing to wait for")
        due = starts - timedelta(hours=int(config.get("before_event_hours", 0)))
    if now < due:
        return Outcome("waiting", f"waiting until {due.isoformat()}", until=due)
    if entered_at >= due:
        return Outcome("skipped", f"{due.isoformat()} had passed when the customer reached this step: not waited")
    return Outcome("done", f"waited until {due.isoformat()}")
