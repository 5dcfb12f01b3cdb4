"""add customer_counts: how many customers each tenant has, kept by triggers

The customers list showed its total with a count of the tenant's customers on every page and
every search: 90 ms at a million customers, most of the page's time (the search itself takes
a few milliseconds with the trigram indexes). The total is now one row of this table.

Triggers keep it, as purchase_hours' (0025): no way of adding or removing a customer can
forget it (the API one at a time and in batches, imports, signup forms, erasure, a tenant's
cascade).
- PostgreSQL: constraint triggers, deferred to commit, so a tenant's row is locked only
  while the transaction commits, not from the customer's INSERT to its end.
- SQLite: plain row triggers (one writer at a time there anyway).
An upsert that updates an existing customer (ON CONFLICT DO UPDATE) fires no insert trigger.

Existing customers are counted into it here, in one INSERT ... SELECT.

Revision ID: 0032_customer_counts
Revises: 0031_batch_rollups
Create Date: 2026-12-05 13:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0032_customer_counts'
down_revision = '0031_batch_rollups'
branch_labels = None
depends_on = None

POSTGRES_FUNCTION = """
CREATE FUNCTION customer_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO customer_counts AS c (tenant_id, customers) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET customers = c.customers + 1;
    ELSE
        UPDATE customer_counts SET customers = customers - 1 WHERE tenant_id = OLD.tenant_id;
    END IF;
    RETURN NULL;
END $$
"""


def upgrade():
    op.create_table(
        'customer_counts',
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('customers', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_customer_counts_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_customer_counts')),
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(POSTGRES_FUNCTION)
        for name, event in (('insert', 'INSERT'), ('delete', 'DELETE')):
            op.execute(f"CREATE CONSTRAINT TRIGGER customer_counts_{name} AFTER {event} ON customers "
                       f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION customer_counts_apply()")
    else:
        op.execute("""CREATE TRIGGER customer_counts_insert AFTER INSERT ON customers BEGIN
                INSERT INTO customer_counts (tenant_id, customers) VALUES (NEW.tenant_id, 1)
                ON CONFLICT (tenant_id) DO UPDATE SET customers = customers + 1;
            END""")
        op.execute("""CREATE TRIGGER customer_counts_delete AFTER DELETE ON customers BEGIN
                UPDATE customer_counts SET customers = customers - 1 WHERE tenant_id = OLD.tenant_id;
            END""")
    op.execute("INSERT INTO customer_counts (tenant_id, customers) "
               "SELECT tenant_id, count(*) FROM customers GROUP BY tenant_id")


def downgrade():
    postgres = op.get_bind().dialect.name == 'postgresql'
    for name in ('customer_counts_insert', 'customer_counts_delete'):
        op.execute(f'DROP TRIGGER IF EXISTS {name} ON customers' if postgres else f'DROP TRIGGER IF EXISTS {name}')
    if postgres:
        op.execute('DROP FUNCTION IF EXISTS customer_counts_apply()')
    op.drop_table('customer_counts')
