"""split: each enrollment takes one of 2 to 4 paths at random, by percentage. The paths
are steps whose parent is the split (services/workflows/paths.py); at a path's end the
flow continues after the split."""

from __future__ import annotations

import random
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from webapp.infra.errors import ValidationFailed
from webapp.models import AutomationEnrollment, AutomationStep
from webapp.services.enrollment.waits import Outcome
from webapp.services.workflows.paths import SPLIT_LETTERS, branch_label
from webapp.services.workflows.steps.base import FormField, FormValues, RunContext, StepType, Strict

MIN_PATHS, MAX_PATHS = 2, 4


class SplitPath(Strict):
    percent: Annotated[int, Field(ge=0, le=100)]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None = None


class SplitStep(Strict):
    paths: Annotated[list[SplitPath], Field(min_length=MIN_PATHS, max_length=MAX_PATHS)]


def check(out: dict[str, Any], *, allowlist: str | None, step_ids: set[int] | None) -> dict[str, Any]:
    total = sum(p["percent"] for p in out["paths"])
    if total != 100:
        raise ValidationFailed("config.paths", f"the percentages must add up to 100 (they add up to {total})")
    return out


def choose_path(percents: list[int], rng: random.Random) -> int:
    """A path index drawn with the given percentages (integers summing to 100)."""
    draw = rng.randrange(100)
    for index, percent in enumerate(percents):
        if draw < percent:
            return index
        draw -= percent
    return len(percents) - 1


def _label(config: dict[str, Any], index: int) -> str:
    name = config["paths"][index].get("name")
    return f"{SPLIT_LETTERS[index]} “{name}”" if name else SPLIT_LETTERS[index]


def describe(config: dict[str, Any]) -> str:
    paths = config.get("paths") or []
    shares = " · ".join(f"{_label(config, i)} {p.get('percent')}%" for i, p in enumerate(paths)
                        if isinstance(p, dict))
    return f"Split at random: {shares}" if shares else "Split at random"


def from_form(form: FormValues) -> dict[str, Any]:
    raw = [part.strip() for part in str(form.get("percents") or "").split(",") if part.strip()]
    try:
        percents = [int(part.rstrip("%")) for part in raw]
    except ValueError:
        raise ValidationFailed("config.percents", "write whole percentages separated by commas, e.g. 50, 50") \
            from None
    names = [part.strip() for part in str(form.get("names") or "").split(",")]
    paths: list[dict[str, Any]] = []
    for index, percent in enumerate(percents):
        path: dict[str, Any] = {"percent": percent}
        if index < len(names) and names[index]:
            path["name"] = names[index]
        paths.append(path)
    return {"paths": paths}


def handle(runner: RunContext, enrollment: AutomationEnrollment, step: AutomationStep, config: dict) -> Outcome:
    percents = [int(p["percent"]) for p in config["paths"]]
    index = choose_path(percents, runner.rng)
    return Outcome("done", f"took path {_label(config, index)} (random, {percents[index]}%)", branch=index,
                   path_label=branch_label(step, index))


STEP = StepType(
    name="split", label="Random split", model=SplitStep, check=check, describe=describe,
    default_config={"paths": [{"percent": 50}, {"percent": 50}]},
    form=(FormField("percents", "Share of customers per path (%)",
                    lambda cfg: ", ".join(str(p.get("percent")) for p in cfg.get("paths") or [])),
          FormField("names", "Path names (optional, in the same order)",
                    lambda cfg: ", ".join(p.get("name") or "" for p in cfg.get("paths") or []).strip(", "))),
    from_form=from_form, handle=handle)
