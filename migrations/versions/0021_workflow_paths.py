"""add workflow paths: steps on a split's or wait_for's paths, enrollments' path taken

automation_steps.parent_step_id/branch place a step on a path of a split or wait_for step
(NULL: the main path); deleting that step deletes its paths' steps (ON DELETE CASCADE).
automation_enrollments.path says which paths an enrollment took; waiting_for/awaited_at
let a recorded activity wake the enrollments waiting for it.

Revision ID: 0021_workflow_paths
Revises: 0019_waitlists
Create Date: 2026-12-04 15:20:00.000000

"""
from alembic import op
import sqlalchemy as sa
import webapp.infra.types


# revision identifiers, used by Alembic.
revision = '0021_workflow_paths'
down_revision = '0020_workflow_goals'
branch_labels = None
depends_on = None

FK = 'fk_automation_steps_parent_step_id_automation_steps'


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite adds a column with its foreign key in place; a batch copy would drop and
        # recreate automation_steps, and ON DELETE SET NULL would blank every trace's step.
        op.execute(f'ALTER TABLE automation_steps ADD COLUMN parent_step_id INTEGER CONSTRAINT {FK} '
                   'REFERENCES automation_steps (id) ON DELETE CASCADE')
    else:
        op.add_column('automation_steps', sa.Column('parent_step_id', sa.Integer(), nullable=True))
        op.create_foreign_key(FK, 'automation_steps', 'automation_steps', ['parent_step_id'], ['id'],
                              ondelete='CASCADE')
    op.add_column('automation_steps', sa.Column('branch', sa.Integer(), nullable=True))
    op.create_index('ix_automation_steps_parent', 'automation_steps', ['parent_step_id', 'branch', 'position'])
    op.add_column('automation_enrollments', sa.Column('path', sa.String(length=200), nullable=True))
    op.add_column('automation_enrollments', sa.Column('waiting_for', sa.String(length=64), nullable=True))
    op.add_column('automation_enrollments',
                  sa.Column('awaited_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    # In place on SQLite too (recreate='never'), for the reason above.
    with op.batch_alter_table('automation_enrollments', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('awaited_at')
        batch_op.drop_column('waiting_for')
        batch_op.drop_column('path')
    op.drop_index('ix_automation_steps_parent', table_name='automation_steps')
    # Steps on paths would lose their place: they go with their split or wait_for.
    op.execute('DELETE FROM automation_steps WHERE parent_step_id IS NOT NULL')
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint(FK, 'automation_steps', type_='foreignkey')
    with op.batch_alter_table('automation_steps', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('branch')
        batch_op.drop_column('parent_step_id')
