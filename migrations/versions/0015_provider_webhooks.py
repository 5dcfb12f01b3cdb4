"""provider webhooks: bounce and complaint webhook credentials, applied provider events, DKIM keys of sending domains

Revision ID: 0015_provider_webhooks
Revises: 0014_topics_consent
Create Date: 2026-12-04 09:00:00.000000

"""
import secrets
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa
import webapp.infra.types  # noqa: F401  (custom column types)

# revision identifiers, used by Alembic.
revision = '0015_provider_webhooks'
down_revision = '0014_topics_consent'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('provider_webhook_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('ses_topic_arns', sa.Text(), nullable=True),
    sa.Column('sendgrid_public_key', sa.Text(), nullable=True),
    sa.Column('postmark_username', sa.String(length=200), nullable=True),
    sa.Column('postmark_password_hash', sa.String(length=255), nullable=True),
    sa.Column('mailgun_signing_key', sa.Text(), nullable=True),
    sa.Column('created_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_provider_webhook_settings_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_webhook_settings')),
    sa.UniqueConstraint('key', name=op.f('uq_provider_webhook_settings_key')),
    sa.UniqueConstraint('tenant_id', name=op.f('uq_provider_webhook_settings_tenant_id'))
    )
    op.create_table('provider_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('event_key', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('occurred_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['email_campaigns.id'], name=op.f('fk_provider_events_campaign_id_email_campaigns'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_provider_events_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_provider_events_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_events')),
    sa.UniqueConstraint('tenant_id', 'provider', 'event_key', name='uq_provider_events_key')
    )
    with op.batch_alter_table('provider_events', schema=None) as batch_op:
        batch_op.create_index('ix_provider_events_customer_kind', ['customer_id', 'kind', 'occurred_at'], unique=False)

    # Every existing organisation gets the random key of its webhook URLs (new ones get it
    # when they are created).
    connection = op.get_bind()
    settings = sa.table('provider_webhook_settings', sa.column('tenant_id', sa.Integer), sa.column('key', sa.String),
                        sa.column('created_at', webapp.infra.types.UTCDateTime(timezone=True)),
                        sa.column('updated_at', webapp.infra.types.UTCDateTime(timezone=True)))
    now = datetime.now(timezone.utc)
    rows = [{'tenant_id': tenant_id, 'key': secrets.token_hex(20), 'created_at': now, 'updated_at': now}
            for (tenant_id,) in connection.execute(sa.text('SELECT id FROM tenants'))]
    if rows:
        op.bulk_insert(settings, rows)

    with op.batch_alter_table('sending_domains', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dkim_selector', sa.String(length=63), nullable=True))
        batch_op.add_column(sa.Column('dkim_private_key', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('dkim_public_key', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('dkim_created_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('campaign_recipients', schema=None) as batch_op:
        batch_op.create_index('ix_campaign_recipients_message_id', ['message_id'], unique=False)


def downgrade():
    with op.batch_alter_table('campaign_recipients', schema=None) as batch_op:
        batch_op.drop_index('ix_campaign_recipients_message_id')

    with op.batch_alter_table('sending_domains', schema=None) as batch_op:
        batch_op.drop_column('dkim_created_at')
        batch_op.drop_column('dkim_public_key')
        batch_op.drop_column('dkim_private_key')
        batch_op.drop_column('dkim_selector')

    with op.batch_alter_table('provider_events', schema=None) as batch_op:
        batch_op.drop_index('ix_provider_events_customer_kind')

    op.drop_table('provider_events')
    op.drop_table('provider_webhook_settings')
