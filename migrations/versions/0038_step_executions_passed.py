"""the step executions' step index covers the enrollment, so a workflow's page counts from the index

A workflow's page says, per step, how many enrollments passed it: count(DISTINCT
enrollment_id) over the step's executions that finished. ix_automation_step_executions_step
was (step_id, outcome) without the enrollment, so the count read every matching row from the
table; over a few million trace rows the planner scanned the whole table instead (183 ms
for a workflow with 31,000 passes among 3.1 million trace rows, measured on a copy of the
table's shape). With the enrollment in the index it is an index-only scan: 5.1 ms. Each
entry grows by one bigint; the trace rows' writes are otherwise unchanged.

Revision ID: 0038_step_executions_passed
Revises: 0037_enrollment_dedupe_partial
Create Date: 2026-12-06 02:20:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0038_step_executions_passed'
down_revision = '0037_enrollment_dedupe_partial'
branch_labels = None
depends_on = None

NAME = "ix_automation_step_executions_step"
TABLE = "automation_step_executions"


def upgrade():
    op.drop_index(NAME, table_name=TABLE)
    op.create_index(NAME, TABLE, ["step_id", "outcome", "enrollment_id"])


def downgrade():
    op.drop_index(NAME, table_name=TABLE)
    op.create_index(NAME, TABLE, ["step_id", "outcome"])
