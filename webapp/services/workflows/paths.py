"""Paths: where a step sits (the main path, or a path of a split or wait_for step) and
which step comes next. A split or wait_for step goes on to the first step of the path
it chose (an empty path continues after it); at the end of a path the flow continues
with the step after the path's owner, in the owner's path: paths rejoin, at any depth.

Pure functions over a workflow's steps (the runner's cached list), so the runner, the
bulk pass over expired waits, deleting and validating agree on one rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from webapp.models import AutomationStep
from webapp.models.workflow import PATH_STEP_TYPES

PathKey = tuple[int | None, int | None]  # (parent_step_id, branch); (None, None): the main path

MAIN_PATH: PathKey = (None, None)
WAIT_FOR_BRANCHES = ("happened", "timed out")
SPLIT_LETTERS = "ABCD"


def path_key(step: AutomationStep) -> PathKey:
    return (step.parent_step_id, step.branch) if step.parent_step_id is not None else MAIN_PATH


def on_path(steps: Iterable[AutomationStep], key: PathKey) -> list[AutomationStep]:
    """A path's steps in order."""
    return sorted((s for s in steps if path_key(s) == key), key=lambda s: (s.position, s.id))


def branch_count(step: AutomationStep) -> int:
    """How many paths a step owns (0 for steps that own none)."""
    if step.type == "split":
        return len((step.config or {}).get("paths") or [])
    return len(WAIT_FOR_BRANCHES) if step.type == "wait_for" else 0


def branch_label(step: AutomationStep, branch: int) -> str:
    """"A" (or the path's name) for a split, "happened" / "timed out" for a wait_for."""
    if step.type == "wait_for":
        return WAIT_FOR_BRANCHES[branch] if 0 <= branch < len(WAIT_FOR_BRANCHES) else str(branch)
    paths = (step.config or {}).get("paths") or []
    name = paths[branch].get("name") if 0 <= branch < len(paths) and isinstance(paths[branch], dict) else None
    return name or (SPLIT_LETTERS[branch] if 0 <= branch < len(SPLIT_LETTERS) else str(branch))


def path_name(step: AutomationStep, steps: Sequence[AutomationStep]) -> str | None:
    """The path a step is on, in words ("B", "happened"); None on the main path."""
    if step.parent_step_id is None or step.branch is None:
        return None
    parent = next((s for s in steps if s.id == step.parent_step_id), None)
    return branch_label(parent, step.branch) if parent is not None else None


def path_columns(step: AutomationStep) -> list[tuple[int, str]]:
    """The builder's columns for a step's paths: (branch, heading), e.g. "Path A · 50%",
    "Path B “Offer” · 50%", "Happened", "Timed out"."""
    if step.type == "wait_for":
        return [(b, label.capitalize()) for b, label in enumerate(WAIT_FOR_BRANCHES)]
    out = []
    for b, path in enumerate((step.config or {}).get("paths") or []):
        name = path.get("name") if isinstance(path, dict) else None
        letter = SPLIT_LETTERS[b] if b < len(SPLIT_LETTERS) else str(b)
        heading = f"Path {letter} “{name}”" if name else f"Path {letter}"
        out.append((b, f"{heading} · {path.get('percent')}%" if isinstance(path, dict) else heading))
    return out


def step_places(steps: Sequence[AutomationStep]) -> dict[int, str]:
    """Where each step is, in words, for traces and lists: "step 2" on the main path,
    "step 2 › path B › step 1" on a path (deeper paths add to it)."""
    places: dict[int, str] = {}

    def walk(key: PathKey, prefix: str) -> None:
        for n, s in enumerate(on_path(steps, key), 1):
            places[s.id] = f"{prefix}step {n}"
            for b in range(branch_count(s)):
                walk((s.id, b), f"{places[s.id]} › path {branch_label(s, b)} › ")

    walk(MAIN_PATH, "")
    return places


def next_step(steps: Sequence[AutomationStep], step: AutomationStep, branch: int | None = None
              ) -> AutomationStep | None:
    """The step after `step`: the first of its chosen path when it owns paths and `branch`
    is given, else the next on its path, else (at a path's end) the step after the path's
    owner, recursively; None at the end of the main path."""
    if branch is not None and step.type in PATH_STEP_TYPES:
        first = on_path(steps, (step.id, branch))
        if first:
            return first[0]
    by_id = {s.id: s for s in steps}
    current: AutomationStep | None = step
    while current is not None:
        siblings = on_path(steps, path_key(current))
        later = [s for s in siblings if (s.position, s.id) > (current.position, current.id)]
        if later:
            return later[0]
        current = by_id.get(current.parent_step_id) if current.parent_step_id is not None else None
    return None


def descendants(steps: Sequence[AutomationStep], step_id: int) -> list[AutomationStep]:
    """Every step on the paths of `step_id`, at any depth."""
    out: list[AutomationStep] = []
    owners = {step_id}
    while owners:
        found = [s for s in steps if s.parent_step_id in owners]
        out.extend(found)
        owners = {s.id for s in found}
    return out


def same_path_ids(steps: Sequence[AutomationStep], key: PathKey) -> set[int]:
    """The ids a condition on this path may jump to: its own path's steps."""
    return {s.id for s in steps if path_key(s) == key}


def ordered_tree(steps: Sequence[AutomationStep]) -> list[AutomationStep]:
    """All steps depth first (a path's owner, then its paths in order, then what follows):
    the order of reading the workflow top to bottom."""
    out: list[AutomationStep] = []

    def walk(key: PathKey) -> None:
        for s in on_path(steps, key):
            out.append(s)
            for b in range(branch_count(s)):
                walk((s.id, b))

    walk(MAIN_PATH)
    seen = {s.id for s in out}
    # A step whose path is gone would be unreachable; listed last rather than hidden.
    return out + [s for s in sorted(steps, key=lambda s: (s.position, s.id)) if s.id not in seen]
