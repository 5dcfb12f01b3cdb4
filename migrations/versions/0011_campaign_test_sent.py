"""record when a campaign's last test was sent (the pre-send checklist asks)

Revision ID: 0011_campaign_test_sent
Revises: 0010_email_designs
Create Date: 2026-12-04 01:40:00.000000

"""
from alembic import op
import sqlalchemy as sa
import webapp.infra.types  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '0011_campaign_test_sent'
down_revision = '0010_email_designs'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('email_campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_test_sent_at', webapp.infra.types.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('email_campaigns', schema=None) as batch_op:
        batch_op.drop_column('last_test_sent_at')
