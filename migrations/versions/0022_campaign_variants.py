"""add campaign variants: A/B tests on campaigns

campaign_variants holds each version of a tested campaign (what it changes; empty fields
inherit the campaign's); email_campaigns gets the test's settings (share, duration,
metric), when it ends and its winner (who chose it, when, and the verdict in words);
campaign_recipients gets the variant each sampled row was given.

Revision ID: 0022_campaign_variants
Revises: 0019_waitlists
Create Date: 2026-12-04 15:30:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
import webapp.infra.types


# revision identifiers, used by Alembic.
revision = '0022_campaign_variants'
down_revision = '0021_workflow_paths'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'campaign_variants',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.SmallInteger(), nullable=False),
        sa.Column('subject', sa.String(length=300), nullable=True),
        sa.Column('preheader', sa.String(length=300), nullable=True),
        sa.Column('from_name', sa.String(length=200), nullable=True),
        sa.Column('html_content', sa.Text(), nullable=True),
        sa.Column('design', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
        sa.ForeignKeyConstraint(['campaign_id'], ['email_campaigns.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('campaign_id', 'position', name='uq_campaign_variants_position'),
    )
    with op.batch_alter_table('email_campaigns') as batch_op:
        batch_op.add_column(sa.Column('ab_share_percent', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('ab_duration_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('ab_metric', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('ab_test_ends_at', webapp.infra.types.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('ab_winner', sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column('ab_winner_chosen_at', webapp.infra.types.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('ab_winner_chosen_by', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('ab_verdict', sa.Text(), nullable=True))
    with op.batch_alter_table('campaign_recipients') as batch_op:
        batch_op.add_column(sa.Column('variant', sa.SmallInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table('campaign_recipients') as batch_op:
        batch_op.drop_column('variant')
    with op.batch_alter_table('email_campaigns') as batch_op:
        for column in ('ab_verdict', 'ab_winner_chosen_by', 'ab_winner_chosen_at', 'ab_winner',
                       'ab_test_ends_at', 'ab_metric', 'ab_duration_minutes', 'ab_share_percent'):
            batch_op.drop_column(column)
    op.drop_table('campaign_variants')
