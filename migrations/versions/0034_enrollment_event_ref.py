"""add automation_enrollments.event_ref: the event an enrollment's trigger named, indexed

An event's page lists the workflows its purchases and its own triggers set off. It found
them by reading every enrollment of the tenant: a dedupe-key LIKE and two JSON extractions
per row (297 ms of a 307 ms page on the smoke seed after a few thousand purchases, and
growing with every enrollment the tenant ever had). Each enrollment now keeps the
platform's id of the event its payload names (`event.external_id`, else `event.id`, a
string or a whole number, trimmed; NULL when it names none or a longer one than an event
can have; the backfill below trims ASCII white space only), and a partial index on (tenant, event, workflow) answers the page.

The enrollments already made get theirs from their payloads here, in one UPDATE.

Revision ID: 0034_enrollment_event_ref
Revises: 0033_segment_reachable_counts
Create Date: 2026-12-05 19:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0034_enrollment_event_ref'
down_revision = '0033_segment_reachable_counts'
branch_labels = None
depends_on = None

# The rule of webapp.models.workflow.event_reference, in each database's JSON functions.
POSTGRES_BACKFILL = """
UPDATE automation_enrollments AS e SET event_ref = r.ref FROM (
    SELECT id, btrim(v #>> '{}', E' \\t\\n\\r\\f\\x0b') AS ref FROM (
        SELECT id, COALESCE(NULLIF(trigger_payload -> 'event' -> 'external_id', 'null'::jsonb),
                            trigger_payload -> 'event' -> 'id') AS v
        FROM automation_enrollments WHERE jsonb_typeof(trigger_payload -> 'event') = 'object') AS p
    WHERE jsonb_typeof(v) = 'string' OR (jsonb_typeof(v) = 'number' AND v #>> '{}' ~ '^-?[0-9]+$')) AS r
WHERE e.id = r.id AND r.ref <> '' AND length(r.ref) <= 200
"""
SQLITE_BACKFILL = """
UPDATE automation_enrollments SET event_ref = trim(CASE
    WHEN json_type(trigger_payload, '$.event.external_id') IN ('text', 'integer')
        THEN json_extract(trigger_payload, '$.event.external_id')
    WHEN coalesce(json_type(trigger_payload, '$.event.external_id'), 'null') = 'null'
         AND json_type(trigger_payload, '$.event.id') IN ('text', 'integer')
        THEN json_extract(trigger_payload, '$.event.id')
    END, char(32, 9, 10, 13, 12, 11))
WHERE json_type(trigger_payload, '$.event') = 'object'
"""


def upgrade():
    with op.batch_alter_table('automation_enrollments') as batch:
        batch.add_column(sa.Column('event_ref', sa.String(length=200), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(POSTGRES_BACKFILL)
    else:
        op.execute(SQLITE_BACKFILL)
        op.execute("UPDATE automation_enrollments SET event_ref = NULL "
                   "WHERE event_ref = '' OR length(event_ref) > 200")
    op.create_index('ix_automation_enrollments_event', 'automation_enrollments',
                    ['tenant_id', 'event_ref', 'workflow_id'], unique=False,
                    postgresql_where=sa.text('event_ref IS NOT NULL'),
                    sqlite_where=sa.text('event_ref IS NOT NULL'))


def downgrade():
    op.drop_index('ix_automation_enrollments_event', table_name='automation_enrollments')
    with op.batch_alter_table('automation_enrollments') as batch:
        batch.drop_column('event_ref')
