"""Signup forms over JSON: create, list, read, change, archive (PATCH status) and delete."""

from __future__ import annotations

from flask import jsonify

from webapp.api.auth import current_tenant_id
from webapp.api.blueprint import bp
from webapp.api.errors import ApiError
from webapp.api.registry import api_route
from webapp.api.schemas import PageQuery
from webapp.api.schemas.forms import FormIn, FormOut, FormPage, FormPatch
from webapp.infra.types import iso_or_none
from webapp.models import SignupForm
from webapp.services import signup_forms


def form_dict(form: SignupForm) -> dict:
    return {
        "id": form.id, "public_id": form.public_id, "name": form.name, "url": signup_forms.hosted_url(form),
        "embed_html": signup_forms.embed_snippet(form), "fields": form.fields, "topics": form.topics,
        "consent_text": form.consent_text, "double_opt_in": form.double_opt_in,
        "confirmation_subject": form.confirmation_subject, "confirmation_body": form.confirmation_body,
        "success_message": form.success_message, "status": form.status,
        "submissions_count": form.submissions_count, "confirmations_count": form.confirmations_count,
        "created_at": iso_or_none(form.created_at), "updated_at": iso_or_none(form.updated_at),
    }


@api_route(bp, "/forms", "GET", summary="List signup forms", tag="forms", query=PageQuery, response=FormPage)
def list_forms(query: PageQuery):
    page = signup_forms.forms_page(current_tenant_id(), limit=query.limit, cursor=query.cursor)
    return jsonify({"data": [form_dict(f) for f in page.items], "next_cursor": page.next_cursor})


@api_route(bp, "/forms", "POST", summary="Create a signup form", tag="forms", body=FormIn, response=FormOut,
           status=201, errors=(422,),
           description="A hosted page at `url` (public, no login) that subscribes people, by default after they "
                       "confirm through an emailed link (double opt-in). Texts left out get defaults in your "
                       "organisation's name. A topic id that is not one of yours is a 422 naming it.")
def create_form(body: FormIn):
    data = body.model_dump(exclude_none=True)
    return jsonify(form_dict(signup_forms.create_form(current_tenant_id(), data))), 201


@api_route(bp, "/forms/<int:form_id>", "GET", summary="Get a signup form", tag="forms", response=FormOut,
           errors=(404,))
def get_form(form_id: int):
    return jsonify(form_dict(signup_forms.get_form(current_tenant_id(), form_id)))


@api_route(bp, "/forms/<int:form_id>", "PATCH", summary="Change a signup form", tag="forms", body=FormPatch,
           response=FormOut, errors=(404, 422),
           description="Only the given keys change; `fields` and `topics` are replaced whole. "
                       "status archived takes the hosted page down (404); active puts it back.")
def patch_form(form_id: int, body: FormPatch):
    changes = body.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None:
            raise ApiError(422, "validation_error", f"{name}: must not be null",
                           [{"field": name, "message": "must not be null"}])
    return jsonify(form_dict(signup_forms.update_form(current_tenant_id(), form_id, changes)))


@api_route(bp, "/forms/<int:form_id>", "DELETE", summary="Delete a signup form", tag="forms", status=204,
           errors=(404,),
           description="Its unconfirmed signups' links stop working. Customers it brought in and their consent "
                       "records stay.")
def delete_form(form_id: int):
    signup_forms.delete_form(current_tenant_id(), form_id)
    return "", 204
