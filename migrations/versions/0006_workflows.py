"""add automation workflows

Revision ID: 0006_workflows
Revises: 0005_tracking
Create Date: 2026-11-24 08:30:29.073048

Workflows, steps, enrollments and step executions; hidden per-step campaigns (kind),
recipients per enrollment, and the tenant's webhook allowlist.

"""
from alembic import op
import sqlalchemy as sa
import webapp.infra.types  # noqa: F401  (custom column types)
from sqlalchemy import Text  # noqa: F401  (autogenerate writes JSONB(astext_type=Text()))
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0006_workflows'
down_revision = '0005_tracking'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('automation_workflows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('trigger_type', sa.String(length=32), nullable=False),
    sa.Column('trigger_config', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('reentry', sa.String(length=20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_automation_workflows_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_workflows'))
    )
    with op.batch_alter_table('automation_workflows', schema=None) as batch_op:
        batch_op.create_index('ix_automation_workflows_tenant_active', ['tenant_id', 'active', 'trigger_type'], unique=False)
        batch_op.create_index('ix_automation_workflows_tenant_id', ['tenant_id', 'id'], unique=False)

    op.create_table('automation_enrollments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('workflow_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('current_step_id', sa.Integer(), nullable=True),
    sa.Column('step_entered_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_run_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('trigger_type', sa.String(length=32), nullable=False),
    sa.Column('trigger_payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('reentry_key', sa.String(length=20), nullable=True),
    sa.Column('dedupe_key', sa.String(length=200), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claim_token', sa.String(length=32), nullable=True),
    sa.Column('claimed_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('exit_reason', sa.Text(), nullable=True),
    sa.Column('enrolled_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_automation_enrollments_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_automation_enrollments_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workflow_id'], ['automation_workflows.id'], name=op.f('fk_automation_enrollments_workflow_id_automation_workflows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_enrollments')),
    sa.UniqueConstraint('customer_id', 'workflow_id', 'dedupe_key', name='uq_automation_enrollments_dedupe'),
    sa.UniqueConstraint('customer_id', 'workflow_id', 'reentry_key', name='uq_automation_enrollments_reentry')
    )
    with op.batch_alter_table('automation_enrollments', schema=None) as batch_op:
        batch_op.create_index('ix_automation_enrollments_due', ['status', 'next_run_at'], unique=False)
        batch_op.create_index('ix_automation_enrollments_workflow', ['workflow_id', 'status', 'id'], unique=False)

    op.create_table('automation_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workflow_id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('config', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('created_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['email_campaigns.id'], name=op.f('fk_automation_steps_campaign_id_email_campaigns'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_automation_steps_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workflow_id'], ['automation_workflows.id'], name=op.f('fk_automation_steps_workflow_id_automation_workflows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_steps'))
    )
    with op.batch_alter_table('automation_steps', schema=None) as batch_op:
        batch_op.create_index('ix_automation_steps_workflow_position', ['workflow_id', 'position'], unique=False)

    op.create_table('automation_step_executions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('enrollment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=True),
    sa.Column('step_type', sa.String(length=32), nullable=False),
    sa.Column('started_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['enrollment_id'], ['automation_enrollments.id'], name=op.f('fk_automation_step_executions_enrollment_id_automation_enrollments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_id'], ['automation_steps.id'], name=op.f('fk_automation_step_executions_step_id_automation_steps'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_automation_step_executions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_step_executions'))
    )
    with op.batch_alter_table('automation_step_executions', schema=None) as batch_op:
        batch_op.create_index('ix_automation_step_executions_enrollment', ['enrollment_id', 'id'], unique=False)
        batch_op.create_index('ix_automation_step_executions_step', ['step_id', 'outcome'], unique=False)

    with op.batch_alter_table('campaign_recipients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('enrollment_id', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.drop_constraint(batch_op.f('uq_campaign_recipients_campaign_customer'), type_='unique')
        batch_op.create_unique_constraint('uq_campaign_recipients_campaign_customer', ['campaign_id', 'customer_id', 'enrollment_id'])

    with op.batch_alter_table('email_campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), server_default='campaign', nullable=False))

    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('webhook_allowlist', sa.Text(), nullable=True))



def downgrade():
    # Workflow tables first (steps point at hidden campaigns), then the hidden campaigns and
    # their recipients, so the old one-row-per-customer constraint holds again.
    with op.batch_alter_table('automation_step_executions', schema=None) as batch_op:
        batch_op.drop_index('ix_automation_step_executions_step')
        batch_op.drop_index('ix_automation_step_executions_enrollment')

    op.drop_table('automation_step_executions')
    with op.batch_alter_table('automation_steps', schema=None) as batch_op:
        batch_op.drop_index('ix_automation_steps_workflow_position')

    op.drop_table('automation_steps')
    with op.batch_alter_table('automation_enrollments', schema=None) as batch_op:
        batch_op.drop_index('ix_automation_enrollments_workflow')
        batch_op.drop_index('ix_automation_enrollments_due')

    op.drop_table('automation_enrollments')
    with op.batch_alter_table('automation_workflows', schema=None) as batch_op:
        batch_op.drop_index('ix_automation_workflows_tenant_id')
        batch_op.drop_index('ix_automation_workflows_tenant_active')

    op.drop_table('automation_workflows')
    op.execute("DELETE FROM campaign_recipients WHERE enrollment_id <> 0 OR campaign_id IN "
               "(SELECT id FROM email_campaigns WHERE kind = 'workflow')")
    op.execute("DELETE FROM email_campaigns WHERE kind = 'workflow'")

    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('webhook_allowlist')

    with op.batch_alter_table('email_campaigns', schema=None) as batch_op:
        batch_op.drop_column('kind')

    with op.batch_alter_table('campaign_recipients', schema=None) as batch_op:
        batch_op.drop_constraint('uq_campaign_recipients_campaign_customer', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_campaign_recipients_campaign_customer'), ['campaign_id', 'customer_id'])
        batch_op.drop_column('enrollment_id')

