"""Workflows, their steps, enrollments and triggers over JSON."""

from __future__ import annotations

from flask import jsonify, request

from webapp.api.audit_trail import Target, note
from webapp.api.auth import current_tenant_id
from webapp.api.blueprint import bp
from webapp.api.registry import api_route, parse_body
from webapp.api.schemas import (
    CampaignPreviewIn,
    CampaignPreviewOut,
    DeleteWorkflowQuery,
    EnrollIn,
    EnrollmentList,
    EnrollmentListQuery,
    EnrollmentPage,
    EnrollOut,
    PageQuery,
    StepIn,
    StepOrderIn,
    StepOut,
    StepPatch,
    TestSendIn,
    TestSendOut,
    ToggleIn,
    TriggerIn,
    TriggerOut,
    WorkflowIn,
    WorkflowOut,
    WorkflowPage,
    WorkflowPatch,
)
from webapp.api.workflow_serializers import enrollment_dict, step_dict, workflow_dict
from webapp.services import workflows


def _full(workflow) -> dict:
    return workflow_dict(workflow, workflows.enrollment_counts([workflow.id])[workflow.id],
                         steps=workflows.steps_of(workflow.id), step_counts=workflows.step_counts(workflow.id))


@api_route(bp, "/workflows", "POST", summary="Create a workflow (switched off)", tag="workflows", body=WorkflowIn,
           response=WorkflowOut, status=201, errors=(422,),
           description="Steps given here are added in order. Switch it on with POST .../toggle.")
def create_workflow(body: WorkflowIn):
    data = body.model_dump(exclude_unset=True)
    workflow = workflows.create_workflow(current_tenant_id(), data)
    return jsonify(_full(workflow)), 201


@api_route(bp, "/workflows", "GET", summary="List workflows with enrollment counts", tag="workflows",
           query=PageQuery, response=WorkflowPage)
def list_workflows(query: PageQuery):
    page = workflows.workflows_page(current_tenant_id(), limit=query.limit, cursor=query.cursor)
    counts = workflows.enrollment_counts([w.id for w in page.items])
    return jsonify({"data": [workflow_dict(w, counts[w.id]) for w in page.items], "next_cursor": page.next_cursor})


@api_route(bp, "/workflows/<int:workflow_id>", "GET", summary="Get a workflow with its steps", tag="workflows",
           response=WorkflowOut, errors=(404,))
def get_workflow(workflow_id: int):
    return jsonify(_full(workflows.get_workflow(current_tenant_id(), workflow_id)))


@api_route(bp, "/workflows/<int:workflow_id>", "PATCH", summary="Update name, trigger or re-entry policy",
           tag="workflows", body=WorkflowPatch, response=WorkflowOut, errors=(404, 422))
def patch_workflow(workflow_id: int, body: WorkflowPatch):
    workflow = workflows.update_workflow(current_tenant_id(), workflow_id, body.model_dump(exclude_unset=True))
    return jsonify(_full(workflow))


@api_route(bp, "/workflows/<int:workflow_id>/steps/order", "PUT", summary="Reorder the steps", tag="workflows",
           body=StepOrderIn, response=WorkflowOut, errors=(404, 422),
           description="Every step id of one path exactly once (the main path, or parent_step_id + branch: "
                       "a split's or wait_for's path). Customers keep their step; the order applies to steps "
                       "they have not run yet.")
def reorder_steps(workflow_id: int, body: StepOrderIn):
    workflows.reorder_steps(current_tenant_id(), workflow_id, body.step_ids, parent_step_id=body.parent_step_id,
                            branch=body.branch)
    return jsonify(_full(workflows.get_workflow(current_tenant_id(), workflow_id)))


@api_route(bp, "/workflows/<int:workflow_id>/steps", "POST", summary="Add a step (append, or insert at position)",
           tag="workflows", body=StepIn, response=StepOut, status=201, errors=(404, 422),
           description="parent_step_id + branch put the step on a path of a split (branch 0..3) or wait_for "
                       "(0 happened, 1 timed out); at a path's end the flow continues after its parent.")
def add_step(workflow_id: int, body: StepIn):
    step = workflows.add_step(current_tenant_id(), workflow_id, body.type, body.config, body.position,
                              parent_step_id=body.parent_step_id, branch=body.branch)
    return jsonify(step_dict(step, {}, steps=workflows.steps_of(workflow_id))), 201


@api_route(bp, "/workflows/<int:workflow_id>/steps/<int:step_id>", "GET", summary="Get a step", tag="workflows",
           response=StepOut, errors=(404,))
def get_step(workflow_id: int, step_id: int):
    step = workflows.get_step(current_tenant_id(), workflow_id, step_id)
    return jsonify(step_dict(step, workflows.step_counts(workflow_id), steps=workflows.steps_of(workflow_id)))


@api_route(bp, "/workflows/<int:workflow_id>/steps/<int:step_id>", "PATCH", summary="Change a step's config",
           tag="workflows", body=StepPatch, response=StepOut, errors=(404, 422))
def patch_step(workflow_id: int, step_id: int, body: StepPatch):
    step = workflows.update_step(current_tenant_id(), workflow_id, step_id, body.config)
    return jsonify(step_dict(step, workflows.step_counts(workflow_id), steps=workflows.steps_of(workflow_id)))


@api_route(bp, "/workflows/<int:workflow_id>/steps/<int:step_id>/preview", "POST",
           summary="Render a send_email step's email as a customer", tag="workflows", body=CampaignPreviewIn,
           response=CampaignPreviewOut, errors=(404, 422),
           description="{{ trigger.* }} reads a sample purchase. A step that sends no email is a 404.")
def preview_step(workflow_id: int, step_id: int, body: CampaignPreviewIn):
    return jsonify(workflows.preview_step(current_tenant_id(), workflow_id, step_id, body.customer_id))


@api_route(bp, "/workflows/<int:workflow_id>/steps/<int:step_id>/test", "POST",
           summary="Send a [TEST] copy of a send_email step's email", tag="workflows", body=TestSendIn,
           response=TestSendOut, errors=(404, 422), description="No enrollment, no statistics.")
def test_step(workflow_id: int, step_id: int, body: TestSendIn):
    return jsonify({"data": workflows.test_step(current_tenant_id(), workflow_id, step_id, body.emails,
                                                body.customer_id)})


@api_route(bp, "/workflows/<int:workflow_id>/steps/<int:step_id>", "DELETE", summary="Delete a step",
           tag="workflows", status=204, errors=(404,),
           description="Customers on it move to the next step (or complete if it was the last).")
def delete_step(workflow_id: int, step_id: int):
    workflows.delete_step(current_tenant_id(), workflow_id, step_id)
    return "", 204


@api_route(bp, "/workflows/<int:workflow_id>/toggle", "POST", summary="Switch on or off", tag="workflows",
           response=WorkflowOut, errors=(404, 422),
           description='No body flips the switch; a JSON body {"active": true|false} sets it. Switching on '
                       "is refused (422) without steps, with an invalid step, or when a send_email step "
                       "exists and no postal address is set.")
def toggle_workflow(workflow_id: int):
    active = None
    if request.get_data(cache=True).strip():
        active = parse_body(ToggleIn).active  # type: ignore[attr-defined]
    was_active = workflows.get_workflow(current_tenant_id(), workflow_id).active
    workflow = workflows.set_active(current_tenant_id(), workflow_id, active)
    if workflow.active != was_active:
        note("workflow.switched_on" if workflow.active else "workflow.switched_off",
             Target("workflow", workflow.id, workflow.name))
    return jsonify(_full(workflow))


@api_route(bp, "/workflows/<int:workflow_id>/enroll", "POST", summary="Enroll customers by hand",
           tag="workflows", body=EnrollIn, response=EnrollOut, errors=(404, 409, 422),
           description="The custom trigger: the payload is available to steps as `trigger`.")
def enroll(workflow_id: int, body: EnrollIn):
    return jsonify(workflows.enroll_customers(current_tenant_id(), workflow_id, body.customer_ids, body.payload))


@api_route(bp, "/workflows/<int:workflow_id>/enrollments", "GET", summary="A workflow's enrollments",
           tag="workflows", query=EnrollmentListQuery, response=EnrollmentPage, errors=(404, 422))
def list_enrollments(workflow_id: int, query: EnrollmentListQuery):
    page = workflows.enrollments_page(current_tenant_id(), workflow_id, status=query.status, limit=query.limit,
                                      cursor=query.cursor)
    return jsonify({"data": [enrollment_dict(e) for e, _ in page.items], "next_cursor": page.next_cursor})


@api_route(bp, "/customers/<int:customer_id>/enrollments", "GET", summary="A customer's enrollments with traces",
           tag="workflows", response=EnrollmentList, errors=(404,),
           description="Every step each enrollment ran: when, the outcome, and why it exited or failed.")
def customer_enrollments(customer_id: int):
    rows = workflows.customer_enrollments(current_tenant_id(), customer_id)
    traces = workflows.executions_of([e.id for e in rows])
    return jsonify({"data": [enrollment_dict(e, traces[e.id]) for e in rows]})


@api_route(bp, "/triggers", "POST", summary="Fire a trigger for a customer", tag="workflows", body=TriggerIn,
           response=TriggerOut, status=201, errors=(404, 422),
           description="The API twin of CRMService.process_trigger: enrolls the customer in every active "
                       "workflow the trigger matches.")
def fire_trigger(body: TriggerIn):
    ids = workflows.fire_trigger(current_tenant_id(), body.type, body.customer_id, body.payload)
    return jsonify({"enrollment_ids": ids}), 201


# Last: the tenancy sweep's control deletes in registration order, the steps before the workflow.
@api_route(bp, "/workflows/<int:workflow_id>", "DELETE", summary="Delete a workflow", tag="workflows",
           query=DeleteWorkflowQuery, status=204, errors=(404, 409),
           description="409 while customers are still in it, unless ?force=true.")
def delete_workflow(workflow_id: int, query: DeleteWorkflowQuery):
    workflows.delete_workflow(current_tenant_id(), workflow_id, force=query.force)
    return "", 204
