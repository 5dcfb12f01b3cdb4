"""add event_sales and event_buyers: what each event sold, kept by triggers

The events list grouped every purchase and line item of the events on its page: 1.5 s at a
million customers. event_sales holds each event's orders, buyers, revenue (purchases that
name it) and tickets (its line items); event_buyers each customer's count of purchases of
it, so buyers move exactly on a customer's first purchase and on the erasure of their last.

As for purchase_hours (0025), triggers keep them on every write path: deferred constraint
triggers on PostgreSQL (an event's row is locked only while a transaction commits), plain
row triggers on SQLite. A purchase names its event by the platform's id; the trigger finds
the event's row by it (every purchase that names an event makes that row first).

The rows already there are summed here, with the queries the events pages ran until now.

Revision ID: 0026_event_sales
Revises: 0025_purchase_hours
Create Date: 2026-12-05 01:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0026_event_sales'
down_revision = '0025_purchase_hours'
branch_labels = None
depends_on = None

POSTGRES_FUNCTION = """
CREATE FUNCTION event_sales_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ev integer;
    first_order integer;
BEGIN
    IF TG_TABLE_NAME = 'purchase_items' THEN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO event_sales AS s (event_id, tenant_id, orders, buyers, revenue, tickets)
            VALUES (NEW.event_id, NEW.tenant_id, 0, 0, 0, NEW.quantity)
            ON CONFLICT (event_id) DO UPDATE SET tickets = s.tickets + excluded.tickets;
        ELSE
            UPDATE event_sales SET tickets = tickets - OLD.quantity WHERE event_id = OLD.event_id;
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        SELECT id INTO ev FROM events WHERE tenant_id = NEW.tenant_id AND external_id = NEW.event_id;
        IF ev IS NULL THEN RETURN NULL; END IF;
        INSERT INTO event_buyers AS b (event_id, customer_id, orders) VALUES (ev, NEW.customer_id, 1)
        ON CONFLICT (event_id, customer_id) DO UPDATE SET orders = b.orders + 1
        RETURNING CASE WHEN orders = 1 THEN 1 ELSE 0 END INTO first_order;
        INSERT INTO event_sales AS s (event_id, tenant_id, orders, buyers, revenue, tickets)
        VALUES (ev, NEW.tenant_id, 1, first_order, coalesce(NEW.amount, 0), 0)
        ON CONFLICT (event_id) DO UPDATE
            SET orders = s.orders + 1, buyers = s.buyers + excluded.buyers, revenue = s.revenue + excluded.revenue;
    ELSE
        SELECT id INTO ev FROM events WHERE tenant_id = OLD.tenant_id AND external_id = OLD.event_id;
        IF ev IS NULL THEN RETURN NULL; END IF;
        UPDATE event_buyers SET orders = orders - 1 WHERE event_id = ev AND customer_id = OLD.customer_id
        RETURNING CASE WHEN orders <= 0 THEN 1 ELSE 0 END INTO first_order;
        UPDATE event_sales SET orders = orders - 1, revenue = revenue - coalesce(OLD.amount, 0),
                               buyers = buyers - coalesce(first_order, 0)
        WHERE event_id = ev;
        DELETE FROM event_buyers WHERE event_id = ev AND customer_id = OLD.customer_id AND orders <= 0;
    END IF;
    RETURN NULL;
END $$
"""

# SQLite: the same, in plain SQL (no variables): the event's row is looked up by its id.
_EVENT = "(SELECT id FROM events WHERE tenant_id = {row}.tenant_id AND external_id = {row}.event_id)"
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER event_sales_purchase_insert AFTER INSERT ON customer_activities
        WHEN NEW.type = 'purchase' AND NEW.event_id IS NOT NULL BEGIN
            INSERT INTO event_sales (event_id, tenant_id, orders, buyers, revenue, tickets)
            SELECT id, NEW.tenant_id, 0, 0, 0, 0 FROM events
            WHERE tenant_id = NEW.tenant_id AND external_id = NEW.event_id
            ON CONFLICT (event_id) DO NOTHING;
            UPDATE event_sales SET orders = orders + 1, revenue = revenue + coalesce(NEW.amount, 0),
                buyers = buyers + NOT EXISTS (SELECT 1 FROM event_buyers b WHERE b.event_id = event_sales.event_id
                                              AND b.customer_id = NEW.customer_id)
            WHERE event_id = {_EVENT.format(row='NEW')};
            INSERT INTO event_buyers (event_id, customer_id, orders)
            SELECT id, NEW.customer_id, 1 FROM events WHERE tenant_id = NEW.tenant_id AND external_id = NEW.event_id
            ON CONFLICT (event_id, customer_id) DO UPDATE SET orders = orders + 1;
        END""",
    f"""CREATE TRIGGER event_sales_purchase_delete AFTER DELETE ON customer_activities
        WHEN OLD.type = 'purchase' AND OLD.event_id IS NOT NULL BEGIN
            UPDATE event_buyers SET orders = orders - 1
            WHERE event_id = {_EVENT.format(row='OLD')} AND customer_id = OLD.customer_id;
            UPDATE event_sales SET orders = orders - 1, revenue = revenue - coalesce(OLD.amount, 0),
                buyers = buyers - EXISTS (SELECT 1 FROM event_buyers b WHERE b.event_id = event_sales.event_id
                                          AND b.customer_id = OLD.customer_id AND b.orders <= 0)
            WHERE event_id = {_EVENT.format(row='OLD')};
            DELETE FROM event_buyers
            WHERE event_id = {_EVENT.format(row='OLD')} AND customer_id = OLD.customer_id AND orders <= 0;
        END""",
    # A single purchase is stored before the event it names is made (a retry must make
    # nothing): SQLite's triggers run at once, so the event's arrival sums what came first.
    # PostgreSQL's run at commit, when the event is there, and need no such trigger.
    """CREATE TRIGGER event_sales_event_insert AFTER INSERT ON events BEGIN
            INSERT INTO event_buyers (event_id, customer_id, orders)
            SELECT NEW.id, customer_id, count(*) FROM customer_activities
            WHERE tenant_id = NEW.tenant_id AND type = 'purchase' AND event_id = NEW.external_id
            GROUP BY customer_id;
            INSERT INTO event_sales (event_id, tenant_id, orders, buyers, revenue, tickets)
            SELECT NEW.id, NEW.tenant_id, count(*), count(DISTINCT customer_id), coalesce(sum(amount), 0), 0
            FROM customer_activities
            WHERE tenant_id = NEW.tenant_id AND type = 'purchase' AND event_id = NEW.external_id
            HAVING count(*) > 0;
        END""",
    """CREATE TRIGGER event_sales_item_insert AFTER INSERT ON purchase_items
        WHEN NEW.event_id IS NOT NULL BEGIN
            INSERT INTO event_sales (event_id, tenant_id, orders, buyers, revenue, tickets)
            VALUES (NEW.event_id, NEW.tenant_id, 0, 0, 0, NEW.quantity)
            ON CONFLICT (event_id) DO UPDATE SET tickets = tickets + excluded.tickets;
        END""",
    """CREATE TRIGGER event_sales_item_delete AFTER DELETE ON purchase_items
        WHEN OLD.event_id IS NOT NULL BEGIN
            UPDATE event_sales SET tickets = tickets - OLD.quantity WHERE event_id = OLD.event_id;
        END""",
]
TRIGGERS = {'event_sales_purchase_insert': 'customer_activities', 'event_sales_purchase_delete': 'customer_activities',
            'event_sales_item_insert': 'purchase_items', 'event_sales_item_delete': 'purchase_items'}

# What the events pages summed until now, for the rows already there.
BACKFILL = [
    """INSERT INTO event_buyers (event_id, customer_id, orders)
       SELECT e.id, a.customer_id, count(*) FROM customer_activities a
       JOIN events e ON e.tenant_id = a.tenant_id AND e.external_id = a.event_id
       WHERE a.type = 'purchase' GROUP BY e.id, a.customer_id""",
    """INSERT INTO event_sales (event_id, tenant_id, orders, buyers, revenue, tickets)
       SELECT e.id, e.tenant_id,
              coalesce((SELECT sum(b.orders) FROM event_buyers b WHERE b.event_id = e.id), 0),
              (SELECT count(*) FROM event_buyers b WHERE b.event_id = e.id),
              coalesce((SELECT sum(a.amount) FROM customer_activities a
                        WHERE a.tenant_id = e.tenant_id AND a.type = 'purchase' AND a.event_id = e.external_id), 0),
              coalesce((SELECT sum(i.quantity) FROM purchase_items i WHERE i.event_id = e.id), 0)
       FROM events e""",
]


def upgrade():
    op.create_table(
        'event_sales',
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('orders', sa.Integer(), nullable=False),
        sa.Column('buyers', sa.Integer(), nullable=False),
        sa.Column('revenue', sa.Numeric(16, 2), nullable=False),
        sa.Column('tickets', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_sales_event_id_events'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_event_sales_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('event_id', name=op.f('pk_event_sales')),
    )
    op.create_table(
        'event_buyers',
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('orders', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_buyers_event_id_events'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('event_id', 'customer_id', name=op.f('pk_event_buyers')),
    )
    for statement in BACKFILL:
        op.execute(statement)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(POSTGRES_FUNCTION)
        for name, table in TRIGGERS.items():
            event = 'INSERT' if name.endswith('insert') else 'DELETE'
            row = 'NEW' if event == 'INSERT' else 'OLD'
            when = f"{row}.event_id IS NOT NULL" + (f" AND {row}.type = 'purchase'" if table == 'customer_activities'
                                                    else '')
            op.execute(f"CREATE CONSTRAINT TRIGGER {name} AFTER {event} ON {table} DEFERRABLE INITIALLY DEFERRED "
                       f"FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION event_sales_apply()")
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade():
    postgres = op.get_bind().dialect.name == 'postgresql'
    for name, table in TRIGGERS.items():
        op.execute(f'DROP TRIGGER IF EXISTS {name}' + (f' ON {table}' if postgres else ''))
    if not postgres:
        op.execute('DROP TRIGGER IF EXISTS event_sales_event_insert')
    if postgres:
        op.execute('DROP FUNCTION IF EXISTS event_sales_apply()')
    op.drop_table('event_buyers')
    op.drop_table('event_sales')
