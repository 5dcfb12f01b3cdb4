"""add events: performances, their tags, purchase line items and attendance

Events were only properties of purchases (customer_activities.event_id and event_name);
each (tenant, event id) found there becomes an events row, named as its latest purchase
names it, with the start its latest purchase gives when that is a moment with an offset.

Revision ID: 0018_events
Revises: 0017_send_windows
Create Date: 2026-12-04 12:20:00.000000

"""
import json
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa
import webapp.infra.types


# revision identifiers, used by Alembic.
revision = '0018_events'
down_revision = '0017_send_windows'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table(
        'events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('external_id', sa.String(length=200), nullable=False),
        sa.Column('name', sa.String(length=300), nullable=False),
        sa.Column('starts_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('doors_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('ends_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('venue_name', sa.String(length=300), nullable=True),
        sa.Column('venue_city', sa.String(length=200), nullable=True),
        sa.Column('timezone', sa.String(length=64), nullable=True),
        sa.Column('capacity', sa.Integer(), nullable=True),
        sa.Column('available', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=20), server_default='on_sale', nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=True),
        sa.Column('image_url', sa.String(length=2000), nullable=True),
        sa.Column('sequence', sa.Integer(), server_default='0', nullable=False),
        sa.Column('settled_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('created_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('tenant_id', 'external_id', name='uq_events_tenant_external'),
    )
    op.create_index('ix_events_tenant_starts', 'events', ['tenant_id', 'starts_at'], unique=False)
    op.create_index('ix_events_starts', 'events', ['starts_at'], unique=False)
    op.create_table(
        'event_tags',
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('event_id', 'kind', 'value'),
    )
    op.create_index('ix_event_tags_tenant_kind_value', 'event_tags', ['tenant_id', 'kind', 'value'], unique=False)
    op.create_table(
        'purchase_items',
        sa.Column('id', BigId, nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('activity_id', BigId, nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=True),
        sa.Column('ticket_type', sa.String(length=100), nullable=True),
        sa.Column('tier', sa.String(length=100), nullable=True),
        sa.Column('section', sa.String(length=100), nullable=True),
        sa.Column('seat', sa.String(length=100), nullable=True),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('price', sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column('attendee_email', sa.String(length=320), nullable=True),
        sa.Column('attendee_first_name', sa.String(length=100), nullable=True),
        sa.Column('attendee_last_name', sa.String(length=100), nullable=True),
        sa.Column('attendee_customer_id', sa.Integer(), nullable=True),
        sa.Column('occurred_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['activity_id'], ['customer_activities.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['attendee_customer_id'], ['customers.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_purchase_items_tenant_event', 'purchase_items', ['tenant_id', 'event_id'], unique=False)
    op.create_index('ix_purchase_items_customer', 'purchase_items', ['customer_id'], unique=False)
    op.create_index('ix_purchase_items_activity', 'purchase_items', ['activity_id'], unique=False)
    op.create_index('ix_purchase_items_attendee', 'purchase_items', ['attendee_customer_id'], unique=False)
    op.create_table(
        'event_attendance',
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('scans', sa.Integer(), server_default='0', nullable=False),
        sa.Column('first_scanned_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('event_starts_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('event_id', 'customer_id'),
    )
    op.create_index('ix_event_attendance_customer', 'event_attendance', ['customer_id', 'status'], unique=False)
    _events_from_purchases()


def _events_from_purchases():
    """One events row per (tenant, event id) that purchases name: set-based for the rows,
    then each event's start read from its latest purchase (events are few; purchases many)."""
    now = datetime.now(timezone.utc)
    bind = op.get_bind()
    events = sa.table('events', sa.column('tenant_id'), sa.column('external_id'), sa.column('name'),
                      sa.column('status'), sa.column('sequence'),
                      sa.column('created_at', webapp.infra.types.UTCDateTime()),
                      sa.column('updated_at', webapp.infra.types.UTCDateTime()))
    activities = sa.table('customer_activities', sa.column('tenant_id'), sa.column('event_id'),
                          sa.column('event_name'), sa.column('type'), sa.column('id'))
    named = (sa.select(activities.c.tenant_id, activities.c.event_id,
                       sa.func.coalesce(sa.func.max(activities.c.event_name), activities.c.event_id),
                       sa.literal('on_sale'), sa.literal(0),
                       sa.literal(now, webapp.infra.types.UTCDateTime()),
                       sa.literal(now, webapp.infra.types.UTCDateTime()))
             .where(activities.c.type == 'purchase', activities.c.event_id.isnot(None))
             .group_by(activities.c.tenant_id, activities.c.event_id))
    bind.execute(events.insert().from_select(
        ['tenant_id', 'external_id', 'name', 'status', 'sequence', 'created_at', 'updated_at'], named))
    rows = bind.execute(sa.text(
        "SELECT e.id, (SELECT a.properties FROM customer_activities a WHERE a.tenant_id = e.tenant_id "
        "AND a.type = 'purchase' AND a.event_id = e.external_id ORDER BY a.id DESC LIMIT 1) FROM events e")).all()
    for event_id, properties in rows:
        if isinstance(properties, str):
            properties = json.loads(properties)
        raw = (properties or {}).get('event') if isinstance(properties, dict) else None
        if not isinstance(raw, dict):
            continue
        try:
            starts = datetime.fromisoformat(str(raw.get('starts_at')).replace('Z', '+00:00'))
        except ValueError:
            starts = None
        if starts is not None and (starts.tzinfo is None or not 1900 <= starts.year < 9999):
            starts = None
        venue = raw.get('venue')
        venue = venue.get('name') if isinstance(venue, dict) else venue
        bind.execute(sa.text("UPDATE events SET starts_at = :starts, venue_name = :venue WHERE id = :id")
                     .bindparams(sa.bindparam('starts', type_=webapp.infra.types.UTCDateTime())),
                     {"starts": starts, "venue": str(venue)[:300] if venue else None, "id": event_id})


def downgrade():
    op.drop_index('ix_event_attendance_customer', table_name='event_attendance')
    op.drop_table('event_attendance')
    op.drop_index('ix_purchase_items_attendee', table_name='purchase_items')
    op.drop_index('ix_purchase_items_activity', table_name='purchase_items')
    op.drop_index('ix_purchase_items_customer', table_name='purchase_items')
    op.drop_index('ix_purchase_items_tenant_event', table_name='purchase_items')
    op.drop_table('purchase_items')
    op.drop_index('ix_event_tags_tenant_kind_value', table_name='event_tags')
    op.drop_table('event_tags')
    op.drop_index('ix_events_starts', table_name='events')
    op.drop_index('ix_events_tenant_starts', table_name='events')
    op.drop_table('events')
