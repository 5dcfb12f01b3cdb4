"""Campaigns: drafts, scheduling, the send snapshot, cancel, preview, test sends, unsubscribe,
statistics.

The modules, each depending only on those listed before it:
  content      content checks shared with workflow emails: a design compiled, header lines
  variants     A/B tests: variants and settings (validated, stored), the sample at the snapshot
  drafts       validation, create, edit, delete, list
  rendering    the sender, unsubscribe links, each recipient's message, preview, test sends
  marks        a group marked sent in one commit, settled after the final "."; the counters
  claims       claiming a batch's recipients, the claimed rows, how a claim ends
  jobs         the delivery jobs, enqueued by name (webapp/infra/queues.py)
  outcomes     what a send's outcome does to its row: retry, fail, bounce
  frequency_cap  at most N marketing emails per person in D days, checked at claim time
  waves        campaigns sent at a local time: each recipient's wave, their jobs, the waves' view
  allowance    the tenant's sending rate, shared by every worker through Redis
  sending      schedule, send now, start when due, the recipient snapshot and its fan-out,
               cancel, progress
  sender       delivering one batch
  reconcile    the periodic sweep
  unsubscribe  the unsubscribe link
  variant_stats  an A/B test's figures per variant and its verdict (services/significance.py)
  stats        figures from counters and rollups, purchase attribution
  ab_winner    an A/B test's winner (automatic or by hand) and the release of the remainder

The names callers use are re-exported here: `campaigns.get_campaign(...)`.
"""

from webapp.services.campaigns.drafts import (
    EDITABLE,
    TEXT_FIELDS,
    UTM_FIELDS,
    campaigns_page,
    compiled_design,
    convert_to_html,
    create_campaign,
    delete_campaign,
    duplicate_campaign,
    get_campaign,
    tenant_campaigns,
    update_campaign,
)
from webapp.services.campaigns.rendering import (
    batch_renderer,
    preview_campaign,
    preview_content,
    render_for,
    send_test,
    sender_of,
    unsubscribe_url,
)
from webapp.services.campaigns.sending import (
    cancel_campaign,
    progress,
    schedule_campaign,
    schedule_local,
    segment_audience,
    send_campaign,
    snapshot_recipients,
    start_delivery,
    start_due_campaign,
)
from webapp.services.campaigns.unsubscribe import recipient_by_token, unsubscribe

__all__ = [
    "EDITABLE", "TEXT_FIELDS", "UTM_FIELDS", "campaigns_page", "cancel_campaign", "compiled_design",
    "convert_to_html", "create_campaign",
    "delete_campaign", "get_campaign", "preview_campaign", "preview_content", "progress", "recipient_by_token",
    "batch_renderer", "render_for", "schedule_campaign", "segment_audience", "send_campaign", "send_test",
    "sender_of", "snapshot_recipients", "start_delivery", "start_due_campaign", "tenant_campaigns", "unsubscribe",
    "unsubscribe_url", "update_campaign",
    "duplicate_campaign", "schedule_local",
]
