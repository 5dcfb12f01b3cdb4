"""Enrollment: triggers put customers into active workflows, set-based, in the caller's
transaction; re-entry policies are unique keys, so whom a policy keeps out is skipped by
the INSERT itself.

Triggers run no step with effects inline. An enrollment whose workflow opens with a wait
starts on it at once (status, next_run_at and the trace row written with the enrollment,
set-based); any other is due at once and a job is enqueued after the trigger's transaction
commits (the periodic scheduler catches any job Redis lost). A purchase POST thus pays for
a few INSERTs, never for SMTP or a webhook.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Text, bindparam, case, cast, insert, literal_column, select, true
from sqlalchemy.dialects.postgresql import JSONB

from webapp.extensions import db
from webapp.infra.queues import after_commit_merged
from webapp.infra.sql import dialect, given_rows, given_rows_params, insert_ignoring_duplicates
from webapp.infra.types import UTCDateTime, utcnow
from webapp.models import AutomationEnrollment, AutomationStepExecution, Customer, CustomerActivity
from webapp.models.workflow import event_reference
from webapp.services.enrollment.active import ActiveWorkflow, active_workflows, matches
from webapp.services.enrollment.goals import note_goals_at_entry
from webapp.services.enrollment.waits import wait_outcome

# Due enrollments per job: large enough that a job's start-up is a small part of it.
RUN_BATCH_SIZE = 500
RUN_JOB_TIMEOUT = 1800



def closed_reentry_key():
    """An ended enrollment frees 'one_at_a_time' (NULL), 'once' stays taken."""
    return case((AutomationEnrollment.reentry_key == "open", None), else_=AutomationEnrollment.reentry_key)


def _start(workflow: ActiveWorkflow, payload: dict[str, Any], now: datetime
           ) -> tuple[str, datetime, str | None, str | None]:
    """How an enrollment begins: ("waiting", until, the wait's step type, the trace's detail)
    when the workflow opens with a wait that has not run out (the engine's own rule), else
    ("active", now, None, None): due at once, for a worker."""
    if workflow.first_step_type in ("wait", "wait_until"):
        try:
            outcome = wait_outcome(workflow.first_step_type, workflow.first_step_config, entered_at=now,
                                   payload=payload, now=now)
        except (ValueError, TypeError, LookupError, ArithmeticError):
            # A wait saved by an older version that this one cannot read: the enrollment
            # starts due, and the runner fails it with the reason on its row. The purchase
            # (and every other workflow it starts) goes on.
            return "active", now, None, None
        if outcome.kind == "waiting":
            return "waiting", outcome.until, workflow.first_step_type, outcome.detail
    return "active", now, None, None


def _reentry_key(policy: str) -> str | None:
    return {"once": "once", "one_at_a_time": "open"}.get(policy)


_CHOSEN = {"workflow_id": Integer(), "step_id": Integer(), "reentry_key": String()}
_STARTED = {"enrollment_id": BigInteger(), "step_id": Integer()}
_ENROLL_COLUMNS = ["tenant_id", "workflow_id", "customer_id", "status", "current_step_id", "step_entered_at",
                   "next_run_at", "trigger_type", "trigger_payload", "reentry_key", "dedupe_key", "attempts",
                   "enrolled_at", "event_ref"]


def _enroll_statement(customers=None):
    """INSERT ... SELECT of one enrollment per chosen workflow (rows of workflow_id, first
    step_id, reentry_key), for the customer :customer_id or every row of `customers` (a
    subquery with a customer_id column). The payload and times are bound once, not once per
    row; the unique keys skip whom the re-entry policy keeps out; RETURNING (id, workflow_id,
    customer_id) of those created. The single-customer form is built once per backend."""
    if customers is None:
        return _enroll_one_statement(dialect())
    return _build_enroll_statement(dialect(), customers)


@functools.cache
def _enroll_one_statement(dialect: str):
    return _build_enroll_statement(dialect, None)


def _build_enroll_statement(dialect: str, customers):
    chosen = given_rows("chosen", _CHOSEN, dialect)
    at = bindparam("now", type_=UTCDateTime())
    customer = bindparam("customer_id", type_=Integer()) if customers is None else customers.c.customer_id
    rows = select(bindparam("tenant_id", type_=Integer()), chosen.c.workflow_id, customer,
                  bindparam("status", type_=String()), chosen.c.step_id, at,
                  bindparam("next_run_at", type_=UTCDateTime()), bindparam("trigger_type", type_=String()),
                  bindparam("payload", type_=AutomationEnrollment.__table__.c.trigger_payload.type),
                  chosen.c.reentry_key, bindparam("dedupe_key", type_=String()), literal_column("0"), at,
                  bindparam("event_ref", type_=String()))
    # Every customer into every chosen workflow. The WHERE keeps SQLite from reading ON
    # CONFLICT as a join's ON.
    rows = rows.select_from(chosen if customers is None else chosen.join(customers, true())).where(true())
    enrollments = AutomationEnrollment.__table__
    return insert_ignoring_duplicates(enrollments).from_select(_ENROLL_COLUMNS, rows).returning(
        enrollments.c.id, enrollments.c.workflow_id, enrollments.c.customer_id)


def _record_waits(tenant_id: int, step_type: str, detail: str, started: list[tuple[int, int]],
                  now: datetime) -> None:
    """The trace row of the wait that new enrollments (enrollment id, step id) start on, open
    until the wait is over, as the runner would write it: one INSERT ... SELECT for the lot."""
    db.session.execute(_record_waits_statement(dialect()), {
        "tenant_id": tenant_id, "step_type": step_type, "now": now, "detail": detail[:2000],
        **given_rows_params("started", _STARTED, started)})


@functools.cache
def _record_waits_statement(dialect: str):
    given = given_rows("started", _STARTED, dialect)
    rows = select(bindparam("tenant_id", type_=Integer()), given.c.enrollment_id, given.c.step_id,
                  bindparam("step_type", type_=String()), bindparam("now", type_=UTCDateTime()),
                  literal_column("'waiting'"), bindparam("detail", type_=Text())).select_from(given)
    return insert(AutomationStepExecution.__table__).from_select(
        ["tenant_id", "enrollment_id", "step_id", "step_type", "started_at", "outcome", "detail"], rows)


def _started(tenant_id: int, made: list[tuple[int, int, int]], step_type: str | None, detail: str | None,
             first_step: dict[int, int], now: datetime) -> list[int]:
    """New enrollments (id, workflow, customer) of one way of starting: those that start on
    a wait get its trace row; the ids of those due now are returned."""
    if step_type is None:
        return [r[0] for r in made]
    if made:
        _record_waits(tenant_id, step_type, detail or "", [(r[0], first_step[r[1]]) for r in made], now)
    return []


def _hand_over(tenant_id: int, created: list[tuple[int, int, int]], due: list[int], now: datetime) -> None:
    if due:
        # Due now: a worker runs them once this transaction commits (the periodic sweep
        # finds any whose job Redis lost).
        after_commit_merged("workflows.run_enrollments", due, chunk=RUN_BATCH_SIZE, queue="default",
                            job_timeout=RUN_JOB_TIMEOUT, result_ttl=60, failure_ttl=86400)
    # A goal already true at entry is not a conversion (goals.py): noted now, set-based.
    note_goals_at_entry(tenant_id, created, now)


def enroll_into(tenant_id: int, chosen: list[ActiveWorkflow], trigger_type: str, payload: dict[str, Any], now: datetime,
            *, customer_id: int | None = None, customers=None,
            dedupe_key: str | None = None) -> list[tuple[int, int, int]]:
    """Enroll one customer (or each of `customers`) into the `chosen` workflows, in the
    caller's transaction: (enrollment id, workflow id, customer id) of those created.

    Running steps up to the first wait is set-based here: one INSERT ... SELECT per distinct
    start, and enrollments whose workflow opens with a wait start on it, their trace rows
    written by one more INSERT ... SELECT (no job, no worker until the wait is over). The
    rest are due now and go to a worker after commit, one by one, since their steps have
    effects (mail, tags, webhooks)."""
    starts: dict[str, tuple[str, datetime, str | None, str | None]] = {}
    groups: dict[tuple[str, datetime, str | None, str | None], list[ActiveWorkflow]] = {}
    for workflow in chosen:
        # Workflows that open with the same wait (or with no wait) start alike: work it out once.
        key = f"{workflow.first_step_type} {sorted(workflow.first_step_config.items())}" \
            if workflow.first_step_type in ("wait", "wait_until") else ""
        if key not in starts:
            starts[key] = _start(workflow, payload, now)
        groups.setdefault(starts[key], []).append(workflow)
    statement = _enroll_statement(customers)
    first_step = {w.id: w.first_step_id for w in chosen}
    event_ref = event_reference(payload)
    created: list[tuple[int, int, int]] = []
    due: list[int] = []
    for (status, until, step_type, detail), members in groups.items():
        given = [(w.id, w.first_step_id, _reentry_key(w.reentry)) for w in members]
        rows = [tuple(r) for r in db.session.execute(statement, {
            "tenant_id": tenant_id, "customer_id": customer_id, "status": status, "now": now, "next_run_at": until,
            "trigger_type": trigger_type, "payload": payload, "dedupe_key": dedupe_key, "event_ref": event_ref,
            **given_rows_params("chosen", _CHOSEN, given)})]
        created += rows
        due += _started(tenant_id, rows, step_type, detail, first_step, now)
    _hand_over(tenant_id, created, due, now)
    created.sort(key=lambda r: (r[1], r[0]))
    return created


def log_enrolled(tenant_id: int, rows: list[tuple[int, int, int]], now: datetime) -> None:
    """workflow_enrolled on each new enrollment's timeline: rows of (enrollment, workflow, customer)."""
    if rows:
        db.session.execute(insert(CustomerActivity.__table__), [
            {"tenant_id": tenant_id, "customer_id": customer_id, "type": "workflow_enrolled",
             "properties": {"workflow_id": workflow_id, "enrollment_id": enrollment_id},
             "occurred_at": now, "created_at": now} for enrollment_id, workflow_id, customer_id in rows])


def process_trigger(tenant_id: int, trigger_type: str, customer: Customer | int, payload: dict[str, Any] | None = None,
                    *, now: datetime | None = None, workflow_ids: set[int] | None = None) -> list[int]:
    """Enroll the customer in every active workflow this trigger matches, in the caller's
    transaction (the caller commits); returns the new enrollments' ids. Re-entry policies
    are unique keys, so a customer the policy forbids is skipped by the INSERT itself."""
    now = now or utcnow()
    payload = dict(payload or {})
    customer_id = customer if isinstance(customer, int) else customer.id
    chosen = [w for w in active_workflows(tenant_id, trigger_type)
              if matches(w, payload) and (workflow_ids is None or w.id in workflow_ids)]
    if not chosen:
        return []
    created = enroll_into(tenant_id, chosen, trigger_type, payload, now, customer_id=customer_id)
    ids = [r[0] for r in created]
    if created:
        # One timeline entry for the trigger, however many workflows it started: a purchase
        # matching 50 workflows writes one row here, not 50.
        db.session.execute(insert(CustomerActivity.__table__).values(
            tenant_id=tenant_id, customer_id=customer_id, type="workflow_enrolled",
            properties={"workflow_ids": [r[1] for r in created], "enrollment_ids": ids, "trigger": trigger_type},
            occurred_at=now, created_at=now))
    return ids


def enroll_selected(tenant_id: int, trigger_type: str, customer_ids, payload: dict[str, Any],
                    *, now: datetime | None = None) -> int:
    """Set-based process_trigger for many customers at once (`customer_ids` is a SELECT
    subquery with a customer_id column): one INSERT ... SELECT for all matching workflows."""
    now = now or utcnow()
    chosen = [w for w in active_workflows(tenant_id, trigger_type) if matches(w, payload)]
    if not chosen:
        return 0
    created = enroll_into(tenant_id, chosen, trigger_type, payload, now, customers=customer_ids)
    log_enrolled(tenant_id, created, now)
    return len(created)


# One trigger for many customers, each with its own payload: a batch of purchases enrolls
# every buyer in every workflow their purchase matches with one INSERT ... SELECT per way of
# starting (usually one), one INSERT of the timeline rows and one of the wait traces, where
# process_trigger once per purchase runs four statements each. Same rules: matches() per
# payload, re-entry policies as unique keys (a customer's second purchase in the batch is
# kept out by the first exactly as a second request would be), waits started set-based,
# due enrollments handed to a worker after commit, goals already true at entry noted.

_PAIRS = {"n": Integer(), "entry": Integer(), "workflow_id": Integer(), "step_id": Integer(),
          "reentry_key": String()}
_ENTRIES = {"entry": Integer(), "customer_id": BigInteger(), "payload": Text(), "event_ref": String()}
# SQLite: each pair carries its customer and payload (joining two json_each() sets is a
# nested loop there: a batch of 1,000 purchases into 50 workflows took half a minute).
_FLAT = {**_PAIRS, "customer_id": BigInteger(), "payload": Text(), "event_ref": String()}


@functools.cache
def _each_statement(backend: str):
    """INSERT ... SELECT of one enrollment per given pair (n, entry, workflow, first step,
    re-entry key) for its entry's (customer, payload), in n's order, ON CONFLICT DO NOTHING,
    RETURNING what was created. On PostgreSQL each payload is sent once per entry, not once
    per workflow (psycopg escapes every JSON string of an array)."""
    if backend == "postgresql":
        pairs = given_rows("pairs", _PAIRS, backend)
        entries = given_rows("entries", _ENTRIES, backend)
        source = pairs.join(entries, entries.c.entry == pairs.c.entry)
        customer_id, payload, event_ref = entries.c.customer_id, cast(entries.c.payload, JSONB), entries.c.event_ref
    else:
        source = pairs = given_rows("pairs", _FLAT, backend)
        customer_id, payload, event_ref = pairs.c.customer_id, pairs.c.payload, pairs.c.event_ref
    at = bindparam("now", type_=UTCDateTime())
    rows = (select(bindparam("tenant_id", type_=Integer()), pairs.c.workflow_id, customer_id,
                   bindparam("status", type_=String()), pairs.c.step_id, at,
                   bindparam("next_run_at", type_=UTCDateTime()), bindparam("trigger_type", type_=String()),
                   payload, pairs.c.reentry_key, literal_column("NULL"), literal_column("0"), at, event_ref)
            .select_from(source).where(true()).order_by(pairs.c.n))
    enrollments = AutomationEnrollment.__table__
    return insert_ignoring_duplicates(enrollments).from_select(_ENROLL_COLUMNS, rows).returning(
        enrollments.c.id, enrollments.c.workflow_id, enrollments.c.customer_id)


def _each_params(rows: list[tuple], entries: list[tuple[int, dict[str, Any]]], texts: dict[int, str]) -> dict:
    """The given rows of _each_statement for `rows` of (entry, workflow, step, re-entry key, customer)."""
    refs = {n: event_reference(entries[n][1]) for n in {row[0] for row in rows}}
    if dialect() == "postgresql":
        given = sorted(refs)
        return {**given_rows_params("pairs", _PAIRS, [(i, *row[:4]) for i, row in enumerate(rows)]),
                **given_rows_params("entries", _ENTRIES, [(n, entries[n][0], texts[n], refs[n]) for n in given])}
    return given_rows_params("pairs", _FLAT, [(i, *row[:4], row[4], texts[row[0]], refs[row[0]])
                                              for i, row in enumerate(rows)])


def _start_key(workflow: ActiveWorkflow) -> Any:
    """Workflows that open alike start alike: "" for no wait, else the wait's type and settings."""
    if workflow.first_step_type not in ("wait", "wait_until"):
        return ""
    return workflow.first_step_type, json.dumps(workflow.first_step_config, sort_keys=True, default=str)


def process_triggers(tenant_id: int, trigger_type: str, entries: list[tuple[int, dict[str, Any]]],
                     now: datetime) -> list[list[int]]:
    """process_trigger for each (customer id, payload) of `entries`, in their order, in the
    caller's transaction: the new enrollments' ids per entry."""
    chosen = active_workflows(tenant_id, trigger_type)
    result: list[list[int]] = [[] for _ in entries]
    if not chosen or not entries:
        return result
    known: dict = {}  # _start worked out once per way of opening (per payload only for wait_until)
    keys = {w.id: _start_key(w) for w in chosen}
    groups: dict[tuple, list[tuple]] = {}
    texts: dict[int, str] = {}
    for n, (customer_id, payload) in enumerate(entries):
        for workflow in chosen:
            if not matches(workflow, payload):
                continue
            if n not in texts:
                texts[n] = json.dumps(payload, default=str)
            key = keys[workflow.id] if workflow.first_step_type != "wait_until" else (keys[workflow.id], texts[n])
            if key not in known:
                known[key] = _start(workflow, payload, now)
            groups.setdefault(known[key], []).append(
                (n, workflow.id, workflow.first_step_id, _reentry_key(workflow.reentry), customer_id))
    statement = _each_statement(dialect())
    first_step = {w.id: w.first_step_id for w in chosen}
    created: list[tuple[int, int, int]] = []
    due: list[int] = []
    for (status, until, step_type, detail), rows in groups.items():
        made = [tuple(r) for r in db.session.execute(statement, {
            "tenant_id": tenant_id, "status": status, "now": now, "next_run_at": until,
            "trigger_type": trigger_type, **_each_params(rows, entries, texts)})]
        created += made
        _assign(rows, made, result)
        due += _started(tenant_id, made, step_type, detail, first_step, now)
    _hand_over(tenant_id, created, due, now)
    _log(tenant_id, trigger_type, entries, result, {r[0]: r[1] for r in created}, now)
    return result


def _assign(rows: list[tuple], made: list[tuple], result: list[list[int]]) -> None:
    """Each created enrollment back to its entry. The rows were inserted in their order and
    numbered in it, so the created ones in id order are the rows in theirs with the ones the
    unique keys kept out left out (only ever a row whose workflow and customer already had
    an open or once-only enrollment: no later row of the pair gets in either)."""
    made = sorted(made)
    at = 0
    for n, workflow_id, _, _, customer_id in rows:
        if at < len(made) and made[at][1] == workflow_id and made[at][2] == customer_id:
            result[n].append(made[at][0])
            at += 1


def _log(tenant_id: int, trigger_type: str, entries: list[tuple[int, dict[str, Any]]], result: list[list[int]],
         workflow_of: dict[int, int], now: datetime) -> None:
    """One workflow_enrolled timeline row per entry that started any, as process_trigger writes it."""
    rows = []
    for (customer_id, _), ids in zip(entries, result, strict=True):
        if ids:
            ordered = sorted(ids, key=lambda i: (workflow_of[i], i))  # as process_trigger lists them
            rows.append({"tenant_id": tenant_id, "customer_id": customer_id, "type": "workflow_enrolled",
                         "properties": {"workflow_ids": [workflow_of[i] for i in ordered], "enrollment_ids": ordered,
                                        "trigger": trigger_type},
                         "occurred_at": now, "created_at": now})
    if rows:
        db.session.execute(insert(CustomerActivity.__table__), rows)
