"""add customers.last_touched_at: when a person last opened or clicked a campaign's email

Every purchase looked for the buyer's last human click or open within the attribution
window, one index probe of tracking_hits, even for the customers no email ever reached. The
hit writer now keeps each customer's latest human hit here (in the batch that writes the
hits), and a purchase looks further only when it falls within the window.

The moment only ever moves later; it may be later than every hit still stored (a deleted
campaign takes its hits with it), which costs a lookup that finds nothing, never a missed
credit.

The human hits already recorded set it here (one UPDATE from their maximum per customer).

Revision ID: 0029_customer_last_touched
Revises: 0028_campaign_recipient_counts
Create Date: 2026-12-05 05:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0029_customer_last_touched'
down_revision = '0028_campaign_recipient_counts'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customers') as batch:
        batch.add_column(sa.Column('last_touched_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE customers SET last_touched_at = t.at FROM ("
               "SELECT customer_id, max(occurred_at) AS at FROM tracking_hits "
               "WHERE NOT is_machine AND kind IN ('open', 'click') GROUP BY customer_id) AS t "
               "WHERE customers.id = t.customer_id")


def downgrade():
    with op.batch_alter_table('customers') as batch:
        batch.drop_column('last_touched_at')
