"""add segment_reachable_counts: how many members of each segment can be emailed, kept by triggers

The segments list and a segment's page counted each segment's reachable members (members
whose email status is "subscribed") on every view: 120 ms for one segment of a million
members, 3.9 s for a list of fifty large segments. The count is now a sum of a few rows of
this table.

The table holds deltas: rows are only ever inserted (summed when read, folded into one row
per segment by a periodic job on PostgreSQL), so concurrent purchases that move the same
segment's membership, and unsubscribes, never wait for one another on a counter row, and
cannot deadlock with the segment locks a refresh takes in id order.

What moves it, kept by triggers so that no way of moving a member can forget it:
- a membership added or removed counts +1 / -1 unless its customer is known to be
  unreachable (PostgreSQL: one statement-level trigger per INSERT and per DELETE, reading
  the transition table, so a calculation that inserts a million members fires it once; its
  statement runs through EXECUTE so that it is planned for the transition table's real size,
  one row for a purchase, a million for a calculation, never with the first run's plan);
- a customer whose email status moves into or out of "subscribed" counts +1 / -1 for each
  segment they are in (a row trigger whose WHEN leaves every other update alone).
Members are removed before their customer is erased (segments.forget_customer), while the
customer's status can still be read; a segment's rows go with the segment (cascade) and no
row is written for a segment deleted in the same transaction.
SQLite: row triggers that add to the segment's one row (one writer at a time there).

The partial index lists the unreachable customers, a small share of them, so the trigger's
statement builds its hash of them without reading every customer.

Revision ID: 0033_segment_reachable_counts
Revises: 0032_customer_counts
Create Date: 2026-12-05 16:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0033_segment_reachable_counts'
down_revision = '0032_customer_counts'
branch_labels = None
depends_on = None

# Customer.is_reachable (webapp/models/customer.py) as of this revision.
REACHABLE = "subscribed"

POSTGRES_MOVED = f"""
CREATE FUNCTION segment_reachable_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        'INSERT INTO segment_reachable_counts (segment_id, tenant_id, reachable) '
        'SELECT s.id, s.tenant_id, g.reachable FROM ('
        '  SELECT m.segment_id, %s (count(*) - count(u.id)) AS reachable FROM moved m '
        '  LEFT JOIN customers u ON u.id = m.customer_id AND u.email_status <> %L '
        '  GROUP BY m.segment_id) g '
        'JOIN customer_segments s ON s.id = g.segment_id WHERE g.reachable <> 0 ORDER BY s.id',
        CASE TG_OP WHEN 'INSERT' THEN '' ELSE '-' END, '{REACHABLE}');
    RETURN NULL;
END $$
"""

POSTGRES_STATUS = f"""
CREATE FUNCTION segment_reachable_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO segment_reachable_counts (segment_id, tenant_id, reachable)
    SELECT m.segment_id, m.tenant_id, CASE WHEN NEW.email_status = '{REACHABLE}' THEN 1 ELSE -1 END
    FROM customer_segment_members m WHERE m.customer_id = NEW.id ORDER BY m.segment_id;
    RETURN NULL;
END $$
"""

# SQLite: the segment's one row moves by `delta`, or is made.
SQLITE_ADD = """
    UPDATE segment_reachable_counts SET reachable = reachable + {delta} WHERE segment_id = {segment};
    INSERT INTO segment_reachable_counts (segment_id, tenant_id, reachable)
    SELECT {segment}, {tenant}, {delta} WHERE NOT EXISTS (
        SELECT 1 FROM segment_reachable_counts WHERE segment_id = {segment});
"""

REBUILD = f"""
INSERT INTO segment_reachable_counts (segment_id, tenant_id, reachable)
SELECT m.segment_id, min(m.tenant_id), count(*) FROM customer_segment_members m
WHERE NOT EXISTS (SELECT 1 FROM customers u WHERE u.id = m.customer_id AND u.email_status <> '{REACHABLE}')
GROUP BY m.segment_id
"""


def upgrade():
    op.create_table(
        'segment_reachable_counts',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('segment_id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('reachable', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['segment_id'], ['customer_segments.id'],
                                name=op.f('fk_segment_reachable_counts_segment_id_customer_segments'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_segment_reachable_counts_tenant_id_tenants'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_segment_reachable_counts')),
    )
    op.create_index('ix_segment_reachable_counts_segment', 'segment_reachable_counts', ['segment_id'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f"CREATE INDEX ix_customers_unreachable ON customers (id) WHERE email_status <> '{REACHABLE}'")
        op.execute(POSTGRES_MOVED)
        op.execute(POSTGRES_STATUS)
        for name, event, table in (('insert', 'INSERT', 'NEW'), ('delete', 'DELETE', 'OLD')):
            op.execute(f"CREATE TRIGGER segment_reachable_{name} AFTER {event} ON customer_segment_members "
                       f"REFERENCING {table} TABLE AS moved FOR EACH STATEMENT "
                       f"EXECUTE FUNCTION segment_reachable_moved()")
        op.execute(f"CREATE TRIGGER segment_reachable_status AFTER UPDATE OF email_status ON customers FOR EACH ROW "
                   f"WHEN ((OLD.email_status = '{REACHABLE}') IS DISTINCT FROM (NEW.email_status = '{REACHABLE}')) "
                   f"EXECUTE FUNCTION segment_reachable_status()")
    else:
        known_unreachable = ("EXISTS (SELECT 1 FROM customers WHERE id = {row}.customer_id "
                             f"AND email_status <> '{REACHABLE}')")
        segment_exists = "EXISTS (SELECT 1 FROM customer_segments WHERE id = {row}.segment_id)"
        for name, event, row, delta in (('insert', 'INSERT', 'NEW', 1), ('delete', 'DELETE', 'OLD', -1)):
            op.execute(
                f"CREATE TRIGGER segment_reachable_{name} AFTER {event} ON customer_segment_members "
                f"WHEN NOT {known_unreachable.format(row=row)} AND {segment_exists.format(row=row)} BEGIN"
                + SQLITE_ADD.format(delta=delta, segment=f"{row}.segment_id", tenant=f"{row}.tenant_id") + "END")
        # A status moving into or out of "subscribed": each of the customer's segments moves,
        # those with a row by the UPDATE, the others get one.
        for name, old, new, delta in (('subscribed', "<>", "=", 1), ('unsubscribed', "=", "<>", -1)):
            op.execute(f"""CREATE TRIGGER segment_reachable_{name} AFTER UPDATE OF email_status ON customers
                WHEN OLD.email_status {old} '{REACHABLE}' AND NEW.email_status {new} '{REACHABLE}' BEGIN
                    UPDATE segment_reachable_counts SET reachable = reachable + {delta} WHERE segment_id IN (
                        SELECT segment_id FROM customer_segment_members WHERE customer_id = NEW.id);
                    INSERT INTO segment_reachable_counts (segment_id, tenant_id, reachable)
                    SELECT m.segment_id, m.tenant_id, {delta} FROM customer_segment_members m
                    WHERE m.customer_id = NEW.id AND NOT EXISTS (
                        SELECT 1 FROM segment_reachable_counts c WHERE c.segment_id = m.segment_id);
                END""")
    op.execute(REBUILD)


def downgrade():
    postgres = op.get_bind().dialect.name == 'postgresql'
    if postgres:
        for name, table in (('segment_reachable_insert', 'customer_segment_members'),
                            ('segment_reachable_delete', 'customer_segment_members'),
                            ('segment_reachable_status', 'customers')):
            op.execute(f'DROP TRIGGER IF EXISTS {name} ON {table}')
        op.execute('DROP FUNCTION IF EXISTS segment_reachable_moved()')
        op.execute('DROP FUNCTION IF EXISTS segment_reachable_status()')
        op.execute('DROP INDEX IF EXISTS ix_customers_unreachable')
    else:
        for name in ('insert', 'delete', 'subscribed', 'unsubscribed'):
            op.execute(f'DROP TRIGGER IF EXISTS segment_reachable_{name}')
    op.drop_index('ix_segment_reachable_counts_segment', table_name='segment_reachable_counts')
    op.drop_table('segment_reachable_counts')
