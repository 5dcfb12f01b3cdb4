"""The workflows list's figures: in it now, completed, emails sent, people's opens and clicks,
and the revenue of purchases attributed to the workflow's emails."""

from __future__ import annotations

from datetime import timedelta

from tests.reports.report_support import recipient, sent_campaign, tracking_hit
from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import AutomationEnrollment, CampaignAttribution, EmailCampaign, TrackingHit
from webapp.services import workflows
from webapp.services.activities import record_activity


def _workflow_with_emails(tenant_id: int, name: str, emails: list[dict]) -> int:
    """A workflow whose send_email steps' hidden campaigns carry the given figures."""
    workflow = workflows.create_workflow(tenant_id, {
        "name": name, "trigger_type": "custom",
        "steps": [{"type": "send_email", "config": {"subject": f"Mail {n}", "content": "<p>Hi</p>"}}
                  for n in range(len(emails))]})
    for step, figures in zip(workflows.steps_of(workflow.id), emails, strict=True):
        hidden = sent_campaign(tenant_id, f"{name} step", kind="workflow", **figures)
        step.campaign_id = hidden.id
    db.session.commit()
    return workflow.id


def _enroll(tenant_id: int, workflow_id: int, statuses: list[str]) -> None:
    for n, status in enumerate(statuses):
        customer = recipient(sent_campaign(tenant_id, f"seed {workflow_id}-{n}", sent=0), f"w{workflow_id}-{n}@x.com")
        db.session.add(AutomationEnrollment(tenant_id=tenant_id, workflow_id=workflow_id,
                                            customer_id=customer.customer_id, status=status, trigger_type="custom",
                                            trigger_payload={}))
    db.session.commit()


def test_figures_per_workflow_match_hand_counts(tenant_a, tenant_b):
    welcome = _workflow_with_emails(tenant_a.id, "Welcome", [
        {"sent": 10, "opened": 4, "clicked": 2, "machine_opened": 3, "revenue": (25.0, 15.0)},
        {"sent": 6, "opened": 1, "clicked": 0}])
    quiet = _workflow_with_emails(tenant_a.id, "Quiet", [])
    _enroll(tenant_a.id, welcome, ["active", "waiting", "held", "completed", "completed", "exited"])
    theirs = _workflow_with_emails(tenant_b.id, "Theirs", [{"sent": 3, "opened": 3, "revenue": (99.0,)}])

    counts = workflows.enrollment_counts([welcome, quiet])
    figures = workflows.email_figures(tenant_a.id, [welcome, quiet, theirs])

    assert (counts[welcome]["active"], counts[welcome]["completed"]) == (3, 2)
    assert figures[welcome] == {"sent": 16, "opened": 5, "clicked": 2, "revenue": 40, "orders": 2}
    assert figures[quiet] == {"sent": 0, "opened": 0, "clicked": 0, "revenue": 0, "orders": 0}
    assert figures[theirs]["sent"] == 0  # another tenant's workflow is not read with this tenant


def test_a_purchase_after_a_click_on_a_workflow_email_is_credited_to_the_workflow(tenant_a):
    welcome = _workflow_with_emails(tenant_a.id, "Welcome", [{"sent": 1}])
    hidden_id = workflows.steps_of(welcome)[0].campaign_id
    row = recipient(db.session.get(EmailCampaign, hidden_id), "buyer@example.com", human_clicks=1)
    tracking_hit(row, "click", "Mozilla/5.0 (Windows NT 10.0) Chrome/124.0 Safari/537.36")
    db.session.query(TrackingHit).update({"occurred_at": utcnow() - timedelta(hours=1)})
    db.session.commit()

    record_activity(tenant_a.id, "purchase", customer_id=row.customer_id,
                    properties={"order_total": 80, "order_id": "WF-1"})

    credit = db.session.query(CampaignAttribution).one()
    assert credit.campaign_id == hidden_id
    assert workflows.email_figures(tenant_a.id, [welcome])[welcome]["revenue"] == 80

