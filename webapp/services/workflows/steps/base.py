"""What a step type is: one entry that validation, the builder, the trace and the engine
find everything from (its config model, checks, description, default, form and handler)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError

from webapp.models import AutomationEnrollment, AutomationStep, AutomationWorkflow, Tenant
from webapp.services.enrollment.waits import Outcome

Days = Annotated[int, Field(ge=1, le=3650)]
# Errors that mean a step's stored settings or the data it reads are unusable, as opposed to
# the infrastructure failing (connections, timeouts), which a retry of the job may heal.
BAD_DATA = (ValueError, TypeError, LookupError, ArithmeticError, DataError)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class StepFailed(Exception):
    def __init__(self, reason: str, *, retry: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


class RunContext(Protocol):
    """What a step's handler may ask of the runner running it (the engine's Runner)."""

    now: datetime
    rng: random.Random  # splits draw from it (seeded in tests)

    def tenant(self, tenant_id: int) -> Tenant: ...

    def allowance(self, tenant_id: int) -> Any: ...

    def transport(self, tenant_id: int) -> Any: ...

    def workflow_steps(self, workflow_id: int) -> tuple[AutomationWorkflow, list[AutomationStep]]: ...


class FormValues(Protocol):
    """The builder's submitted fields (the web layer's checked request.form)."""

    def get(self, name: str, default: Any = None) -> Any: ...

    def json(self, name: str, field: str) -> Any: ...


@dataclass(frozen=True)
class FormField:
    """One field of a step's inline editor. `kind`: input, textarea, select, step (a
    choice among the workflow's other steps), conditions (the segment builder's condition
    rows, posting the list as JSON) or page (the step is edited on a page of its own,
    `endpoint`: the builder shows `value`'s summary lines and a link to it); `value` reads
    the saved config."""

    name: str
    label: str
    value: Callable[[dict[str, Any]], Any]
    kind: str = "input"
    input_type: str = "text"
    rows: int = 4
    json: bool = False  # the textarea shows the value as JSON
    options: tuple[tuple[str, str], ...] = ()
    element_id: str | None = None  # the id suffix, when it is not the name
    empty_label: str = ""  # the step choice's "none" option
    endpoint: str = ""  # a page field's editor (a web endpoint taking workflow_id and step_id)

    @property
    def id_suffix(self) -> str:
        return self.element_id or self.name


Handler = Callable[[RunContext, AutomationEnrollment, AutomationStep, dict], Outcome]


def _no_check(out: dict[str, Any], *, allowlist: str | None, step_ids: set[int] | None) -> dict[str, Any]:
    return out


@dataclass(frozen=True)
class StepType:
    """A workflow step type. `check` runs after the model (normalising or refusing what
    the model cannot see); `from_form` turns the builder's fields into a config."""

    name: str
    label: str
    model: type[BaseModel]
    default_config: dict[str, Any]
    describe: Callable[[dict[str, Any]], str]
    handle: Handler
    form: tuple[FormField, ...]
    from_form: Callable[[FormValues], dict[str, Any]]
    check: Callable[..., dict[str, Any]] = _no_check
    opens_wait: bool = False  # its trace row opens "waiting" and is closed when the wait ends
    # What "Add step" starts from for a tenant, when it depends on them (the brand kit);
    # default_config otherwise.
    starter: Callable[[Tenant], dict[str, Any]] | None = None

    def starting_config(self, tenant: Tenant) -> dict[str, Any]:
        return self.starter(tenant) if self.starter is not None else dict(self.default_config)
