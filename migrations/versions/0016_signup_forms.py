"""signup forms: forms people subscribe through, and their signups pending confirmation

Revision ID: 0016_signup_forms
Revises: 0015_provider_webhooks
Create Date: 2026-12-04 08:41:09.537043

"""
from alembic import op
import sqlalchemy as sa
import webapp.infra.types  # noqa: F401  (custom column types)
from sqlalchemy import Text  # noqa: F401  (autogenerate writes JSONB(astext_type=Text()))
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0016_signup_forms'
down_revision = '0015_provider_webhooks'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('signup_forms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('topics', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('consent_text', sa.Text(), nullable=False),
    sa.Column('double_opt_in', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('confirmation_subject', sa.String(length=200), nullable=False),
    sa.Column('confirmation_body', sa.Text(), nullable=False),
    sa.Column('success_message', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='active', nullable=False),
    sa.Column('submissions_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('confirmations_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_signup_forms_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signup_forms')),
    sa.UniqueConstraint('public_id', name=op.f('uq_signup_forms_public_id'))
    )
    with op.batch_alter_table('signup_forms', schema=None) as batch_op:
        batch_op.create_index('ix_signup_forms_tenant_id_id', ['tenant_id', 'id'], unique=False)

    op.create_table('pending_signups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('values', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('wording', sa.Text(), nullable=True),
    sa.Column('ip_address', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=500), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('emailed_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('confirm_ip', sa.String(length=64), nullable=True),
    sa.Column('confirm_user_agent', sa.String(length=500), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_pending_signups_customer_id_customers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['form_id'], ['signup_forms.id'], name=op.f('fk_pending_signups_form_id_signup_forms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_pending_signups_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_signups')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_pending_signups_token_hash'))
    )
    with op.batch_alter_table('pending_signups', schema=None) as batch_op:
        batch_op.create_index('ix_pending_signups_form', ['form_id', 'id'], unique=False)
        batch_op.create_index('ix_pending_signups_tenant_email', ['tenant_id', 'email', 'created_at'], unique=False)
        batch_op.create_index('ix_pending_signups_unsent', ['emailed_at', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('pending_signups', schema=None) as batch_op:
        batch_op.drop_index('ix_pending_signups_unsent')
        batch_op.drop_index('ix_pending_signups_tenant_email')
        batch_op.drop_index('ix_pending_signups_form')

    op.drop_table('pending_signups')
    with op.batch_alter_table('signup_forms', schema=None) as batch_op:
        batch_op.drop_index('ix_signup_forms_tenant_id_id')

    op.drop_table('signup_forms')