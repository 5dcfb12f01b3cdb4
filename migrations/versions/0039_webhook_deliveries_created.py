"""index webhook deliveries by when they were made, so finished ones past their keeping time are found

Finished deliveries (delivered, or failed for good) are now removed WEBHOOK_KEEP_DAYS (30)
after they were made, by the `webhooks-prune` periodic job
(services/webhooks/retention.py). Every subscribed event of every send, click and purchase
is a row of this table, which until now grew with all the history the endpoints ever had.
The job finds the oldest rows by this index; without it, a run with nothing old to remove
would read the whole table to learn so. Entries are appended at the index's right edge,
as the rows are.

Revision ID: 0039_webhook_deliveries_created
Revises: 0038_step_executions_passed
Create Date: 2026-12-06 03:50:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0039_webhook_deliveries_created'
down_revision = '0038_step_executions_passed'
branch_labels = None
depends_on = None

NAME = "ix_webhook_deliveries_created"
TABLE = "webhook_deliveries"


def upgrade():
    op.create_index(NAME, TABLE, ["created_at"])


def downgrade():
    op.drop_index(NAME, table_name=TABLE)
