"""add ingest_followups: what a large batch of activities still owes after its request

A batch of 1,000 purchases spent nine tenths of its request on what follows the stored rows:
with 50 purchase workflows, 50,000 enrollments and their wait traces, and 50 segments
re-evaluated for each buyer. A batch above the inline limit now stores its activities, moves
the aggregates, links events, stores tickets and credits campaigns in the request, and writes
one row here, in the same transaction; a worker does the rest and deletes the row in the
transaction that does it (a failure keeps the row, with its reason, for the next try).

Revision ID: 0030_ingest_followups
Revises: 0029_customer_last_touched
Create Date: 2026-12-05 07:10:00.000000

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0030_ingest_followups'
down_revision = '0029_customer_last_touched'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'ingest_followups',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('rounds', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                  nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('next_try_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ingest_followups_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_followups')),
    )
    op.create_index('ix_ingest_followups_due', 'ingest_followups', ['next_try_at'], unique=False)


def downgrade():
    op.drop_index('ix_ingest_followups_due', table_name='ingest_followups')
    op.drop_table('ingest_followups')
