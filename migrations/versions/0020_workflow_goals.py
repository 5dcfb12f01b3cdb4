"""add workflow goals, exit conditions and holdouts

automation_workflows.goal ({conditions, match, within_days}) says what counts as a
conversion; exit_conditions ({conditions, match}) who leaves at once. Enrollments record
when they converted, whether the goal was already true at entry (not a conversion), and
whether a holdout step put them in the control group.

Revision ID: 0020_workflow_goals
Revises: 0019_waitlists
Create Date: 2026-12-04 15:30:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
import webapp.infra.types


# revision identifiers, used by Alembic.
revision = '0020_workflow_goals'
down_revision = '0019_waitlists'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('automation_workflows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('goal', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
        batch_op.add_column(sa.Column('exit_conditions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
    with op.batch_alter_table('automation_enrollments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('converted_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('goal_met_at_entry', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('held_out', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    # Plain DROP COLUMN on both backends (SQLite 3.35+): a batch rebuild of the workflows
    # table on SQLite would drop it, and its enrollments with it (ON DELETE CASCADE).
    for table, column in (('automation_enrollments', 'held_out'), ('automation_enrollments', 'goal_met_at_entry'),
                          ('automation_enrollments', 'converted_at'), ('automation_workflows', 'exit_conditions'),
                          ('automation_workflows', 'goal')):
        op.execute(f'ALTER TABLE {table} DROP COLUMN {column}')
