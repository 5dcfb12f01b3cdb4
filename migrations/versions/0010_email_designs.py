"""campaign designs, brand kit, templates and assets

Revision ID: 0010_email_designs
Revises: 0009_sending_domains
Create Date: 2026-12-04 00:58:03.329319

"""
from alembic import op
import sqlalchemy as sa
import webapp.infra.types  # noqa: F401  (custom column types)
from sqlalchemy import Text  # noqa: F401  (autogenerate writes JSONB(astext_type=Text()))
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0010_email_designs'
down_revision = '0009_sending_domains'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('email_assets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=50), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('storage_key', sa.String(length=300), nullable=False),
    sa.Column('alt', sa.Text(), nullable=True),
    sa.Column('created_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_email_assets_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_assets')),
    sa.UniqueConstraint('token', name='uq_email_assets_token')
    )
    with op.batch_alter_table('email_assets', schema=None) as batch_op:
        batch_op.create_index('ix_email_assets_tenant_id', ['tenant_id', 'id'], unique=False)

    op.create_table('email_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), server_default='template', nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=True),
    sa.Column('preheader', sa.String(length=300), nullable=True),
    sa.Column('design', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('html_content', sa.Text(), nullable=True),
    sa.Column('created_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_email_templates_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_templates'))
    )
    with op.batch_alter_table('email_templates', schema=None) as batch_op:
        batch_op.create_index('ix_email_templates_tenant_kind', ['tenant_id', 'kind', 'id'], unique=False)

    with op.batch_alter_table('email_campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('design', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True))

    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('brand', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True))



def downgrade():
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('brand')

    with op.batch_alter_table('email_campaigns', schema=None) as batch_op:
        batch_op.drop_column('design')

    with op.batch_alter_table('email_templates', schema=None) as batch_op:
        batch_op.drop_index('ix_email_templates_tenant_kind')

    op.drop_table('email_templates')
    with op.batch_alter_table('email_assets', schema=None) as batch_op:
        batch_op.drop_index('ix_email_assets_tenant_id')

    op.drop_table('email_assets')
