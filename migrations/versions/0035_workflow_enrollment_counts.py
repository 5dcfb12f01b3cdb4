"""add workflow_enrollment_counts: each workflow's enrollments per status, kept by triggers

The workflows list counted each shown workflow's enrollments per status on every view, and
a workflow's page and the API its own: a grouped count over the (workflow, status) index.
Every purchase enrolls its buyer into each purchase workflow, so that index grows without
end: after the medium benchmark's 31,000 purchases into fifty workflows the list took 362 ms,
and 2.5 million entries took 0.27 s for one page of workflows on this 2-core box. The counts
are now sums of a few rows of this table.

The table holds deltas, as segment_reachable_counts does: on PostgreSQL rows are only ever
inserted (folded into one row per workflow and status by a periodic job), so concurrent
purchases enrolling buyers into the same workflows never wait for one another on a counter
row.

Triggers on automation_enrollments keep it, so none of its writers can forget it (the
single and batch enrollments, the event sweeps, the runner's steps, holding and releasing,
exits, goals, an erased customer's or a deleted workflow's cascade):
- PostgreSQL: statement triggers with transition tables on INSERT and DELETE, one grouped
  INSERT per statement however many rows it touched; a DELETE writes only for workflows still
  there (a deleted workflow's or tenant's rows go with it by cascade). A row trigger on
  UPDATE whose WHEN passes over every update that moves no status (see below).
- SQLite: row triggers that move the workflow's row for the status, or make it.

The enrollments already there are counted here, in one INSERT ... SELECT.

Revision ID: 0035_workflow_enrollment_counts
Revises: 0034_enrollment_event_ref
Create Date: 2026-12-05 19:15:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0035_workflow_enrollment_counts'
down_revision = '0034_enrollment_event_ref'
branch_labels = None
depends_on = None

_INSERT = "INSERT INTO workflow_enrollment_counts (workflow_id, tenant_id, status, enrollments) "

POSTGRES_FUNCTIONS = [f"""
CREATE FUNCTION workflow_enrollment_counts_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_INSERT} VALUES (OLD.workflow_id, OLD.tenant_id, OLD.status, -1), (NEW.workflow_id, NEW.tenant_id, NEW.status, 1);
    RETURN NULL;
END $$
""", f"""
CREATE FUNCTION workflow_enrollment_counts_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_INSERT}
        SELECT workflow_id, min(tenant_id), status, count(*) FROM new_rows GROUP BY workflow_id, status;
    ELSE
        {_INSERT}
        SELECT g.workflow_id, w.tenant_id, g.status, -g.n FROM (
            SELECT workflow_id, status, count(*) AS n FROM old_rows GROUP BY workflow_id, status) AS g
        JOIN automation_workflows w ON w.id = g.workflow_id JOIN tenants t ON t.id = w.tenant_id;
    END IF;
    RETURN NULL;
END $$
"""]
# Enrollments are made in sets (a purchase into every workflow it matches, a batch, an event
# sweep) and deleted in sets (a workflow's or an erased customer's cascade): one statement
# trigger each. Their status moves one enrollment at a time in the runner, and most updates
# (a purchase's of its buyer's enrollments, claims, attempts) move none: a row trigger whose
# WHEN passes over those. A statement trigger on UPDATE fired for every one of them and cost
# a purchase enrolling its buyer into fifty workflows 0.7 ms of its 7.4.
POSTGRES_TRIGGERS = {
    'workflow_enrollment_counts_insert': ('AFTER INSERT ON automation_enrollments REFERENCING NEW TABLE AS new_rows '
                                          'FOR EACH STATEMENT EXECUTE FUNCTION workflow_enrollment_counts_statement()'),
    'workflow_enrollment_counts_update': ('AFTER UPDATE OF workflow_id, status ON automation_enrollments FOR EACH ROW '
                                          'WHEN (OLD.status IS DISTINCT FROM NEW.status '
                                          'OR OLD.workflow_id IS DISTINCT FROM NEW.workflow_id) '
                                          'EXECUTE FUNCTION workflow_enrollment_counts_moved()'),
    'workflow_enrollment_counts_delete': ('AFTER DELETE ON automation_enrollments REFERENCING OLD TABLE AS old_rows '
                                          'FOR EACH STATEMENT EXECUTE FUNCTION workflow_enrollment_counts_statement()'),
}

# SQLite: the row of (workflow, status) moves by `delta`, or is made.
_SQLITE_ADD = """
    UPDATE workflow_enrollment_counts SET enrollments = enrollments + {delta}
    WHERE workflow_id = {row}.workflow_id AND status = {row}.status;
    INSERT INTO workflow_enrollment_counts (workflow_id, tenant_id, status, enrollments)
    SELECT {row}.workflow_id, {row}.tenant_id, {row}.status, {delta} WHERE NOT EXISTS (
        SELECT 1 FROM workflow_enrollment_counts WHERE workflow_id = {row}.workflow_id AND status = {row}.status);
"""
_MOVED = "NEW.status IS NOT OLD.status OR NEW.workflow_id IS NOT OLD.workflow_id"
SQLITE_TRIGGERS = {
    'workflow_enrollment_counts_insert': ("AFTER INSERT ON automation_enrollments BEGIN"
                                          + _SQLITE_ADD.format(row="NEW", delta=1) + "END"),
    'workflow_enrollment_counts_update': (
        f"AFTER UPDATE OF workflow_id, status ON automation_enrollments WHEN {_MOVED} BEGIN"
        + _SQLITE_ADD.format(row="NEW", delta=1) + _SQLITE_ADD.format(row="OLD", delta=-1) + "END"),
    'workflow_enrollment_counts_delete': (
        "AFTER DELETE ON automation_enrollments "
        "WHEN EXISTS (SELECT 1 FROM automation_workflows WHERE id = OLD.workflow_id) BEGIN"
        + _SQLITE_ADD.format(row="OLD", delta=-1) + "END"),
}
REBUILD = (_INSERT + "SELECT workflow_id, min(tenant_id), status, count(*) FROM automation_enrollments "
           "GROUP BY workflow_id, status")


def upgrade():
    op.create_table(
        'workflow_enrollment_counts',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('workflow_id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('enrollments', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['workflow_id'], ['automation_workflows.id'],
                                name=op.f('fk_workflow_enrollment_counts_workflow_id_automation_workflows'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_workflow_enrollment_counts_tenant_id_tenants'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_enrollment_counts')),
    )
    op.create_index('ix_workflow_enrollment_counts_workflow', 'workflow_enrollment_counts', ['workflow_id'])
    if op.get_bind().dialect.name == 'postgresql':
        for function in POSTGRES_FUNCTIONS:
            op.execute(function)
        for name, body in POSTGRES_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    op.execute(REBUILD)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for name in POSTGRES_TRIGGERS:
            op.execute(f'DROP TRIGGER IF EXISTS {name} ON automation_enrollments')
        op.execute('DROP FUNCTION IF EXISTS workflow_enrollment_counts_statement()')
        op.execute('DROP FUNCTION IF EXISTS workflow_enrollment_counts_moved()')
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f'DROP TRIGGER IF EXISTS {name}')
    op.drop_index('ix_workflow_enrollment_counts_workflow', table_name='workflow_enrollment_counts')
    op.drop_table('workflow_enrollment_counts')
