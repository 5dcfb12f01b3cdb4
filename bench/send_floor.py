"""bench_send's floor: our delivery with composing left out, to show what the rest costs.

The workers run the real BatchSender (claim, load, the tenant's allowance, the group's mark
and commit before the final ".", activities, counters, SMTP) with one change: every message
of a batch is the batch's first, composed once, under a message id of its own. What this
side spends beyond the bare smtplib loop is the bookkeeping that makes a send never go
twice; what our full run spends beyond this side is composing the messages.

The jobs are this module's, enqueued by the benchmark on the workers' queue by name; the
worker processes import it from the checkout (their working directory), so the app has no
switch for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from webapp.extensions import db
from webapp.infra.queues import get_queue
from webapp.mail.compose import Composed
from webapp.mail.templating import RenderFailed
from webapp.models import EmailCampaign
from webapp.services.campaigns.claims import batches_with_work
from webapp.services.campaigns.sender import BatchSender
from webapp.services.campaigns.sending import snapshot_recipients


class UncomposedSender(BatchSender):
    """BatchSender whose messages are all the first one's, composed once."""

    def load_rows(self) -> None:
        super().load_rows()
        self.render = _composed_once(self.render)


def _composed_once(render: Callable[[list], list]) -> Callable[[list], list]:
    first: list[Composed] = []

    def render_copies(recipients: list) -> list:
        if not first:
            [message] = render(recipients[:1])
            if isinstance(message, RenderFailed):
                raise message
            first.append(message)
        message = first[0]
        return [Composed(message.subject, message.html, message.text, message.message,
                         f"<{uuid.uuid4().hex}@floor.bench.example>") for _ in recipients]

    return render_copies


def deliver_uncomposed(campaign_id: int, batch_no: int) -> dict:
    """tasks.delivery.deliver_batch with UncomposedSender."""
    campaign = db.session.get(EmailCampaign, campaign_id)
    if campaign is None or campaign.status != "sending":
        return {"claimed": 0}
    return UncomposedSender(campaign, batch_no).run()


def start_uncomposed(campaign_id: int) -> int:
    """tasks.delivery.start_campaign with this module's batch jobs: the snapshot, then one
    job per batch on the delivery queue (a retry a batch asks for would be a normal one)."""
    snapshot_recipients(campaign_id)
    batches = batches_with_work(campaign_id)
    queue = get_queue("mail")
    for batch_no in batches:
        queue.enqueue(f"{__name__}.deliver_uncomposed", campaign_id, batch_no, job_timeout=3600)
    return len(batches)
