"""the enrollments' dedupe key unique only where there is one (PostgreSQL)

uq_automation_enrollments_dedupe, (customer, workflow, dedupe key), keeps the scheduler's
triggers (an event's day, its reminders, a sell-out crossing) from enrolling a customer twice
for the same thing. The key is NULL for every other enrollment, the purchases' and the tags'
among them, and NULLs never collide, so the index held an entry per enrollment that it never
needed: a purchase into fifty workflows wrote fifty. It becomes a partial unique index over
the rows that have a key, which refuses exactly what the constraint refused. It is built
before the constraint goes, in the same transaction, so there is no moment without it.

SQLite keeps the constraint: dropping it there means rebuilding the table (and its
triggers), and its writes are not where the time went.

Revision ID: 0037_enrollment_dedupe_partial
Revises: 0036_purchase_path_foreign_keys
Create Date: 2026-12-06 01:40:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0037_enrollment_dedupe_partial'
down_revision = '0036_purchase_path_foreign_keys'
branch_labels = None
depends_on = None

NAME = "uq_automation_enrollments_dedupe"
COLUMNS = "customer_id, workflow_id, dedupe_key"


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"CREATE UNIQUE INDEX {NAME}_partial ON automation_enrollments ({COLUMNS}) "
               "WHERE dedupe_key IS NOT NULL")
    op.execute(f"ALTER TABLE automation_enrollments DROP CONSTRAINT {NAME}")
    op.execute(f"ALTER INDEX {NAME}_partial RENAME TO {NAME}")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER INDEX {NAME} RENAME TO {NAME}_partial")
    op.execute(f"ALTER TABLE automation_enrollments ADD CONSTRAINT {NAME} UNIQUE ({COLUMNS})")
    op.execute(f"DROP INDEX {NAME}_partial")
