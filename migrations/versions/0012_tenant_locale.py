"""add tenants.currency and tenants.locale (money in the organiser's currency, formatted for its locale)

Existing tenants get GBP and en_GB, the defaults of new tenants and of the demo.

Revision ID: 0012_tenant_locale
Revises: 0011_campaign_test_sent
Create Date: 2026-12-04 05:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_tenant_locale'
down_revision = '0011_campaign_test_sent'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('currency', sa.String(length=3), server_default='GBP', nullable=False))
        batch_op.add_column(sa.Column('locale', sa.String(length=20), server_default='en_GB', nullable=False))


def downgrade():
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('locale')
        batch_op.drop_column('currency')
