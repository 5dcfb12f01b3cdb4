"""One decorator that registers an API view, validates its input and documents it.

Every endpoint declares its body, query and response models here; the wrapper parses
and validates with them, and the OpenAPI document is generated from the same records.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, request
from pydantic import BaseModel, ValidationError

from webapp.api.errors import ApiError
from webapp.infra.sql import retrying_transaction
from webapp.infra.validation import error_details, unstorable


@dataclass
class Endpoint:
    rule: str
    method: str
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    # A multipart/form-data body (file uploads), documented from this model.
    form: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    public: bool = False
    write: bool = False
    # Only admin tokens (not marketer or viewer ones): settings-like routes.
    admin: bool = False
    media_type: str = "application/json"
    errors: tuple[int, ...] = ()
    description: str = ""
    extra_responses: dict[int, str] = field(default_factory=dict)
    # Reads and nothing else: run without a transaction (infra.sql.reads_without_transaction).
    read_only: bool = False


ENDPOINTS: list[Endpoint] = []
PUBLIC_ENDPOINTS: set[str] = set()
ADMIN_ENDPOINTS: set[str] = set()
READ_ONLY_ENDPOINTS: set[str] = set()


def _query_data(model: type[BaseModel]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name not in request.args:
            continue
        origin = typing.get_origin(info.annotation)
        args = typing.get_args(info.annotation)
        is_list = origin is list or any(typing.get_origin(a) is list for a in args)
        if is_list:
            data[name] = [v.strip() for raw in request.args.getlist(name)
                          for v in raw.split(",") if v.strip()]
        else:
            data[name] = request.args.get(name)
    unknown = set(request.args) - set(model.model_fields)
    for name in sorted(unknown):
        data[name] = request.args.get(name)
    return data


def parse_body(model: type[BaseModel]) -> BaseModel:
    """Strict JSON body: 415 for another content type, 400 for malformed JSON, 422 for
    valid JSON with wrong or missing fields (naming each)."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type",
                       "send the body as JSON with Content-Type: application/json")
    raw = request.get_data(cache=True)
    try:
        parsed = model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if errors and errors[0]["type"] == "json_invalid":
            raise ApiError(400, "invalid_json", f"the body is not valid JSON: {errors[0]['msg']}") from None
        if errors and errors[0]["type"] == "model_type" and not errors[0]["loc"]:
            raise ApiError(422, "validation_error", "the body must be a JSON object",
                           [{"field": "", "message": "must be a JSON object"}]) from None
        details = error_details(exc)
        raise ApiError(422, "validation_error",
                       "; ".join(f"{d['field']}: {d['message']}" for d in details[:5]),
                       details) from None
    refuse_unstorable(parsed.model_dump())
    return parsed


def check_form(model: type[BaseModel]) -> None:
    """A multipart body with only the model's fields: 415 for another content type, 422
    naming an unknown field."""
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type", "send the body as multipart/form-data")
    names = set(request.form) | set(request.files)
    if None in names:  # a part whose Content-Disposition has no name
        raise ApiError(422, "validation_error", "a form field has no name",
                       [{"field": "", "message": "every form field needs a name"}])
    for name in sorted(names):
        if name not in model.model_fields:
            raise ApiError(422, "validation_error", f"{name}: is not a field of this form",
                           [{"field": name, "message": "is not a field of this form"}])


def refuse_unstorable(data: Any) -> None:
    """422 naming the first value no database stores faithfully (NUL, lone surrogates, NaN,
    Infinity, whole numbers past 64 bits), wherever it sits in the body or query."""
    found = unstorable(data)
    if found is not None:
        field, message = found
        raise ApiError(422, "validation_error", f"{field}: {message}", [{"field": field, "message": message}])


def api_route(bp: Blueprint, rule: str, method: str, *, summary: str, tag: str,
              body: type[BaseModel] | None = None, form: type[BaseModel] | None = None,
              query: type[BaseModel] | None = None, response: type[BaseModel] | None = None,
              status: int = 200, public: bool = False, admin: bool = False,
              media_type: str = "application/json", errors: tuple[int, ...] = (),
              description: str = "", extra_responses: dict[int, str] | None = None,
              parse_body_model: bool = True, read_only: bool = False) -> Callable:
    """Register `view` on `bp` and in the OpenAPI registry.

    With parse_body_model=False the body model only documents the route: the view reads
    the body itself (batch routes answer each item on its own). `read_only=True` (a GET that
    writes nothing, not even through a service that creates what it reads) runs without a
    transaction on PostgreSQL.

    The view gets `body=` and/or `query=` (validated models) plus the URL's arguments. A write
    needs a token that may write (not a viewer's); `admin=True` needs an admin token.
    """
    endpoint = Endpoint(rule=rule, method=method, summary=summary, tag=tag, body=body, form=form,
                        query=query, response=response, status=status, public=public, admin=admin,
                        write=method not in ("GET", "HEAD", "OPTIONS"), media_type=media_type,
                        errors=errors, description=description,
                        extra_responses=extra_responses or {}, read_only=read_only)
    if read_only and method != "GET":
        raise ValueError(f"{rule}: only a GET can be read_only")
    ENDPOINTS.append(endpoint)

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(**kwargs: Any):
            if body is not None and parse_body_model:
                kwargs["body"] = parse_body(body)
            if form is not None:
                check_form(form)
            if query is not None:
                data = _query_data(query)
                refuse_unstorable(data)
                try:
                    kwargs["query"] = query.model_validate(data)
                except ValidationError as exc:
                    details = error_details(exc)
                    raise ApiError(422, "validation_error",
                                   "; ".join(f"{d['field']}: {d['message']}" for d in details[:5]),
                                   details) from None
            return _run_retrying(view, kwargs) if endpoint.write else view(**kwargs)

        name = f"{view.__name__}"
        bp.add_url_rule(rule, endpoint=name, view_func=wrapper, methods=[method])
        if public:
            PUBLIC_ENDPOINTS.add(f"{bp.name}.{name}")
        if admin:
            ADMIN_ENDPOINTS.add(f"{bp.name}.{name}")
        if read_only:
            READ_ONLY_ENDPOINTS.add(f"{bp.name}.{name}")
        endpoint.view_name = f"{bp.name}.{name}"  # type: ignore[attr-defined]
        return wrapper

    return decorator


CONTENTION_ATTEMPTS = 3


def _run_retrying(view: Callable, kwargs: dict[str, Any]) -> Any:
    """A write, run again from the start (after a short random pause) when the database
    rolled it back for contention (lost_to_contention): two on-sale batches sharing new
    customers can wait on each other however carefully each orders its locks. Nothing of a
    rolled-back attempt remains (jobs and webhooks wait for the commit). An attempt that had
    committed part of its work (a batch commits around each ticket scan, and deals with what
    comes after one itself) is not run again: its error goes on as before. Still losing after
    three attempts: a 503 to send it again."""
    return retrying_transaction(lambda: view(**kwargs), attempts=CONTENTION_ATTEMPTS, pause=0.05,
                                busy="other requests were changing the same customers; nothing was saved: "
                                     "send it again")
