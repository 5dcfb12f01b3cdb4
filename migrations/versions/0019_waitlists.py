"""add waitlists: inventory trigger crossings, event waitlists and their entries

inventory_crossings remembers, per event and inventory workflow, whether the trigger may
fire again (once per crossing); event_waitlists holds an event's public join token and
offer time; waitlist_entries the people waiting, in order, with their offers.

Revision ID: 0019_waitlists
Revises: 0018_events
Create Date: 2026-12-04 12:50:00.000000

"""
from alembic import op
import sqlalchemy as sa
import webapp.infra.types


# revision identifiers, used by Alembic.
revision = '0019_waitlists'
down_revision = '0018_events'
branch_labels = None
depends_on = None

ACTIVE = sa.text("status IN ('waiting', 'offered')")


def upgrade():
    op.create_table(
        'inventory_crossings',
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('workflow_id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('armed', sa.Boolean(), nullable=False),
        sa.Column('crossings', sa.Integer(), server_default='0', nullable=False),
        sa.Column('fired_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['workflow_id'], ['automation_workflows.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('event_id', 'workflow_id'),
    )
    op.create_table(
        'event_waitlists',
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('public_token', sa.String(length=64), nullable=False),
        sa.Column('offer_minutes', sa.Integer(), server_default='60', nullable=False),
        sa.Column('created_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('event_id'),
        sa.UniqueConstraint('public_token', name='uq_event_waitlists_public_token'),
    )
    op.create_table(
        'waitlist_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('joined_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('offered_quantity', sa.Integer(), nullable=True),
        sa.Column('offer_token_hash', sa.String(length=64), nullable=True),
        sa.Column('offered_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('offer_expires_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('claimed_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('ended_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('offer_token_hash', name='uq_waitlist_entries_offer_token'),
    )
    op.create_index('uq_waitlist_entries_active', 'waitlist_entries', ['event_id', 'customer_id'], unique=True,
                    sqlite_where=ACTIVE, postgresql_where=ACTIVE)
    op.create_index('ix_waitlist_entries_event_status', 'waitlist_entries', ['event_id', 'status', 'id'],
                    unique=False)
    op.create_index('ix_waitlist_entries_offer_expiry', 'waitlist_entries', ['status', 'offer_expires_at'],
                    unique=False)
    op.create_index('ix_waitlist_entries_customer', 'waitlist_entries', ['customer_id'], unique=False)


def downgrade():
    op.drop_index('ix_waitlist_entries_customer', table_name='waitlist_entries')
    op.drop_index('ix_waitlist_entries_offer_expiry', table_name='waitlist_entries')
    op.drop_index('ix_waitlist_entries_event_status', table_name='waitlist_entries')
    op.drop_index('uq_waitlist_entries_active', table_name='waitlist_entries')
    op.drop_table('waitlist_entries')
    op.drop_table('event_waitlists')
    op.drop_table('inventory_crossings')
