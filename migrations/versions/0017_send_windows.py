"""add send windows: local-time campaigns (waves), the frequency cap and quiet hours

tenants get frequency_cap_emails/_days and quiet_hours_start/_end (all null: no cap, no
quiet hours); email_campaigns get local_send_time (the wall-clock time of a campaign sent
in each recipient's timezone) and transactional (a workflow email exempt from both);
campaign_recipients get wave_at (the row's wave in a local-time campaign).

Revision ID: 0017_send_windows
Revises: 0016_signup_forms
Create Date: 2026-12-04 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_send_windows'
down_revision = '0016_signup_forms'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('frequency_cap_emails', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('frequency_cap_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('quiet_hours_start', sa.String(length=5), nullable=True))
        batch_op.add_column(sa.Column('quiet_hours_end', sa.String(length=5), nullable=True))
    with op.batch_alter_table('email_campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('local_send_time', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('transactional', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('campaign_recipients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('wave_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    # SQLite drops these columns in place (ALTER TABLE ... DROP COLUMN): a batch copy would
    # drop and recreate tenants, and the foreign keys' ON DELETE CASCADE would empty every
    # table that belongs to a tenant on the way.
    with op.batch_alter_table('campaign_recipients', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('wave_at')
    with op.batch_alter_table('email_campaigns', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('transactional')
        batch_op.drop_column('local_send_time')
    with op.batch_alter_table('tenants', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('quiet_hours_end')
        batch_op.drop_column('quiet_hours_start')
        batch_op.drop_column('frequency_cap_days')
        batch_op.drop_column('frequency_cap_emails')
