"""add purchase_hours: purchases per tenant and hour, kept by triggers

The dashboard's revenue and orders of the last 30 days (and the 30 before) summed every
purchase of 60 days per request: 1.1 s at a million customers. They are now summed from at
most 1,440 rows of this table.

Triggers keep it, so no way of writing a purchase can forget it: the API one at a time and in
batches, imports, the demo seeder, and the cascade that erases a customer's activities.
- PostgreSQL: constraint triggers, deferred to commit. The tenant's hour row is then locked
  only while the transaction commits, not from the purchase's INSERT to its end, so
  concurrent purchases of one tenant wait for each other's commit at most.
- SQLite: plain row triggers (one writer at a time there anyway).
The hour is occurred_at truncated to the hour in UTC, as campaign_engagement_hours'.

Existing purchases are summed into it here, in one INSERT ... SELECT.

Revision ID: 0025_purchase_hours
Revises: 0024_customer_search_trigram
Create Date: 2026-12-05 01:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0025_purchase_hours'
down_revision = '0024_customer_search_trigram'
branch_labels = None
depends_on = None

# SQLite stores UTC moments as naive text, "YYYY-MM-DD HH:MM:SS.ffffff" (SQLAlchemy's format).
SQLITE_HOUR = "strftime('%Y-%m-%d %H:00:00.000000', {moment})"

POSTGRES_FUNCTION = """
CREATE FUNCTION purchase_hours_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO purchase_hours AS h (tenant_id, hour, orders, revenue)
        VALUES (NEW.tenant_id, date_trunc('hour', NEW.occurred_at, 'UTC'), 1, coalesce(NEW.amount, 0))
        ON CONFLICT (tenant_id, hour) DO UPDATE
            SET orders = h.orders + 1, revenue = h.revenue + excluded.revenue;
    ELSE
        UPDATE purchase_hours SET orders = orders - 1, revenue = revenue - coalesce(OLD.amount, 0)
        WHERE tenant_id = OLD.tenant_id AND hour = date_trunc('hour', OLD.occurred_at, 'UTC');
    END IF;
    RETURN NULL;
END $$
"""


def upgrade():
    op.create_table(
        'purchase_hours',
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('hour', sa.DateTime(timezone=True), nullable=False),
        sa.Column('orders', sa.Integer(), nullable=False),
        sa.Column('revenue', sa.Numeric(16, 2), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_purchase_hours_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('tenant_id', 'hour', name=op.f('pk_purchase_hours')),
    )
    if op.get_bind().dialect.name == 'postgresql':
        hour = "date_trunc('hour', occurred_at, 'UTC')"
        op.execute(POSTGRES_FUNCTION)
        for name, event in (('insert', 'INSERT'), ('delete', 'DELETE')):
            op.execute(f"CREATE CONSTRAINT TRIGGER purchase_hours_{name} AFTER {event} ON customer_activities "
                       f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                       f"WHEN ({'NEW' if event == 'INSERT' else 'OLD'}.type = 'purchase') "
                       f"EXECUTE FUNCTION purchase_hours_apply()")
    else:
        hour = SQLITE_HOUR.format(moment='occurred_at')
        op.execute(f"""CREATE TRIGGER purchase_hours_insert AFTER INSERT ON customer_activities
            WHEN NEW.type = 'purchase' BEGIN
                INSERT INTO purchase_hours (tenant_id, hour, orders, revenue)
                VALUES (NEW.tenant_id, {SQLITE_HOUR.format(moment='NEW.occurred_at')}, 1, coalesce(NEW.amount, 0))
                ON CONFLICT (tenant_id, hour) DO UPDATE
                    SET orders = orders + 1, revenue = revenue + excluded.revenue;
            END""")
        op.execute(f"""CREATE TRIGGER purchase_hours_delete AFTER DELETE ON customer_activities
            WHEN OLD.type = 'purchase' BEGIN
                UPDATE purchase_hours SET orders = orders - 1, revenue = revenue - coalesce(OLD.amount, 0)
                WHERE tenant_id = OLD.tenant_id AND hour = {SQLITE_HOUR.format(moment='OLD.occurred_at')};
            END""")
    op.execute(f"INSERT INTO purchase_hours (tenant_id, hour, orders, revenue) "
               f"SELECT tenant_id, {hour}, count(*), coalesce(sum(amount), 0) FROM customer_activities "
               f"WHERE type = 'purchase' GROUP BY tenant_id, {hour}")


def downgrade():
    op.execute('DROP TRIGGER IF EXISTS purchase_hours_insert ON customer_activities'
               if op.get_bind().dialect.name == 'postgresql' else 'DROP TRIGGER IF EXISTS purchase_hours_insert')
    op.execute('DROP TRIGGER IF EXISTS purchase_hours_delete ON customer_activities'
               if op.get_bind().dialect.name == 'postgresql' else 'DROP TRIGGER IF EXISTS purchase_hours_delete')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP FUNCTION IF EXISTS purchase_hours_apply()')
    op.drop_table('purchase_hours')
