"""add outbound webhooks: endpoints, their deliveries (an outbox) and the attempt log

webhook_endpoints holds the URLs a tenant subscribed to event types, each with its sealed
Standard Webhooks signing secret and failure streak; webhook_deliveries one row per event
and endpoint, stored before it is attempted, claimed by conditional UPDATE and retried
with backoff; webhook_attempts the per-attempt history the settings page shows.

Revision ID: 0023_webhook_endpoints
Revises: 0019_waitlists
Create Date: 2026-12-04 15:20:00.000000

"""
from alembic import op
import sqlalchemy as sa
import webapp.infra.types


# revision identifiers, used by Alembic.
revision = '0023_webhook_endpoints'
down_revision = '0022_campaign_variants'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'webhook_endpoints',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('description', sa.String(length=200), server_default='', nullable=False),
        sa.Column('event_types', webapp.infra.types.JsonDoc, nullable=False),
        sa.Column('secret', sa.Text(), nullable=False),
        sa.Column('enabled', sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column('disabled_reason', sa.Text(), nullable=True),
        sa.Column('disabled_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('consecutive_failures', sa.Integer(), server_default='0', nullable=False),
        sa.Column('failing_since', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('version', sa.Integer(), server_default='1', nullable=False),
        sa.Column('created_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_webhook_endpoints_tenant', 'webhook_endpoints', ['tenant_id', 'enabled'], unique=False)
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('endpoint_id', sa.Integer(), nullable=False),
        sa.Column('event_type', sa.String(length=40), nullable=False),
        sa.Column('msg_id', sa.String(length=40), nullable=False),
        sa.Column('payload', webapp.infra.types.JsonDoc, nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('next_attempt_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_status_code', sa.Integer(), nullable=True),
        sa.Column('last_response_ms', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('claim_token', sa.String(length=32), nullable=True),
        sa.Column('claimed_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('created_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('delivered_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('msg_id'),
    )
    op.create_index('ix_webhook_deliveries_due', 'webhook_deliveries', ['status', 'next_attempt_at'], unique=False)
    op.create_index('ix_webhook_deliveries_endpoint', 'webhook_deliveries', ['endpoint_id', 'id'], unique=False)
    op.create_table(
        'webhook_attempts',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('delivery_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('attempted_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('succeeded', sa.Boolean(), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('response_ms', sa.Integer(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['delivery_id'], ['webhook_deliveries.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_webhook_attempts_delivery', 'webhook_attempts', ['delivery_id', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_webhook_attempts_delivery', table_name='webhook_attempts')
    op.drop_table('webhook_attempts')
    op.drop_index('ix_webhook_deliveries_endpoint', table_name='webhook_deliveries')
    op.drop_index('ix_webhook_deliveries_due', table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    op.drop_index('ix_webhook_endpoints_tenant', table_name='webhook_endpoints')
    op.drop_table('webhook_endpoints')
