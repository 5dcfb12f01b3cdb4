"""drop foreign keys a purchase into workflows paid for and nothing needed (PostgreSQL)

A purchase that matches fifty workflows writes fifty enrollments, fifty trace rows and, by
0035's trigger, fifty workflow_enrollment_counts rows; every row checked each of its foreign
keys, one index probe and a row lock on the parent apiece. EXPLAIN ANALYZE of the enrollment
INSERT on this 2-core box: 4.5 ms, of which 1.5 ms for the three keys of the fifty rows and
1.5 ms for the counts trigger, two thirds of that the hundred checks of the counts' two keys.

Dropped, on PostgreSQL only:
- automation_enrollments.tenant_id and automation_step_executions.tenant_id: the tenant is
  the workflow's, and deleting a tenant still deletes both through their other keys (tenant ->
  workflows and customers -> enrollments -> step executions, all ON DELETE CASCADE);
- workflow_enrollment_counts.workflow_id and .tenant_id: the rows are derived, read only for
  workflows that exist, and the periodic fold deletes those of deleted workflows
  (services/kept_counts.py). A PostgreSQL id comes from a sequence, so a new workflow never
  reads a deleted one's rows.

SQLite keeps them: there a deleted workflow's id can be given to the next one, and its
writes are not where the time went.

Revision ID: 0036_purchase_path_foreign_keys
Revises: 0035_workflow_enrollment_counts
Create Date: 2026-12-05 22:20:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0036_purchase_path_foreign_keys'
down_revision = '0035_workflow_enrollment_counts'
branch_labels = None
depends_on = None

# (table, column, referred table): the names are the naming convention's (models/base.py).
_KEYS = (
    ("automation_enrollments", "tenant_id", "tenants"),
    ("automation_step_executions", "tenant_id", "tenants"),
    ("workflow_enrollment_counts", "workflow_id", "automation_workflows"),
    ("workflow_enrollment_counts", "tenant_id", "tenants"),
)


def _name(table: str, column: str, referred: str) -> str:
    return f"fk_{table}_{column}_{referred}"


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, referred in _KEYS:
        op.execute(f'ALTER TABLE {table} DROP CONSTRAINT IF EXISTS "{_name(table, column, referred)}"')


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    # What the keys would have removed with their parents goes first.
    op.execute("DELETE FROM workflow_enrollment_counts c WHERE NOT EXISTS "
               "(SELECT 1 FROM automation_workflows w WHERE w.id = c.workflow_id) "
               "OR NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = c.tenant_id)")
    for table, column, referred in _KEYS:
        op.create_foreign_key(_name(table, column, referred), table, referred, [column], ["id"], ondelete="CASCADE")
