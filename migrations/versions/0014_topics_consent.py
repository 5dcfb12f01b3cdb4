"""topics and consent: topics, customers' choices of them, consent records, campaigns' topic

Revision ID: 0014_topics_consent
Revises: 0013_team
Create Date: 2026-12-04 08:35:08.520922

"""
from alembic import op
import sqlalchemy as sa
import webapp.infra.types  # noqa: F401  (custom column types)
from sqlalchemy import Text  # noqa: F401  (autogenerate writes JSONB(astext_type=Text()))


# revision identifiers, used by Alembic.
revision = '0014_topics_consent'
down_revision = '0013_team'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('topics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('default_subscribed', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_topics_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topics')),
    sa.UniqueConstraint('tenant_id', 'name', name='uq_topics_tenant_name')
    )
    with op.batch_alter_table('topics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_topics_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('consent_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=True),
    sa.Column('topic_name', sa.String(length=100), nullable=True),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=30), nullable=False),
    sa.Column('wording', sa.Text(), nullable=True),
    sa.Column('ip_address', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=500), nullable=True),
    sa.Column('context', sa.String(length=200), nullable=True),
    sa.Column('occurred_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_consent_records_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_consent_records_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_consent_records_topic_id_topics'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_records'))
    )
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.create_index('ix_consent_records_customer', ['tenant_id', 'customer_id', 'id'], unique=False)

    op.create_table('customer_topics',
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('subscribed', sa.Boolean(), nullable=False),
    sa.Column('updated_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_topics_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_customer_topics_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_customer_topics_topic_id_topics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', 'topic_id', name=op.f('pk_customer_topics'))
    )
    with op.batch_alter_table('customer_topics', schema=None) as batch_op:
        batch_op.create_index('ix_customer_topics_tenant_topic', ['tenant_id', 'topic_id', 'customer_id'], unique=False)

    with op.batch_alter_table('email_campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('topic_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_email_campaigns_topic_id_topics'), 'topics', ['topic_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('email_campaigns', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_email_campaigns_topic_id_topics'), type_='foreignkey')
        batch_op.drop_column('topic_id')

    with op.batch_alter_table('customer_topics', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_topics_tenant_topic')

    op.drop_table('customer_topics')
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.drop_index('ix_consent_records_customer')

    op.drop_table('consent_records')
    with op.batch_alter_table('topics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_topics_tenant_id'))

    op.drop_table('topics')
