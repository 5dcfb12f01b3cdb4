"""add trigram indexes for the customer search on PostgreSQL

The customers list finds a fragment anywhere in the email or the "first last" name
(LIKE '%fragment%'), which no B-tree can serve: every one of a tenant's rows was read.
pg_trgm's GIN indexes answer such patterns from the fragment's trigrams. The expressions
are those of webapp.models.customer (email as stored, already lower-cased, and
search_name()), which the query uses too. SQLite has no such index: nothing to do there.

The way back drops the two indexes and keeps the extension: it may have been there before
this revision, and other objects may use it.

Revision ID: 0024_customer_search_trigram
Revises: 0023_webhook_endpoints
Create Date: 2026-12-04 19:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0024_customer_search_trigram'
down_revision = '0023_webhook_endpoints'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    op.execute('CREATE INDEX ix_customers_email_trgm ON customers USING gin (email gin_trgm_ops)')
    op.execute("CREATE INDEX ix_customers_name_trgm ON customers USING gin "
               "((lower(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))) gin_trgm_ops)")


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.drop_index('ix_customers_name_trgm', table_name='customers')
    op.drop_index('ix_customers_email_trgm', table_name='customers')
