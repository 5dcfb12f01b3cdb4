"""add workflow_enrollment_counts: each workflow's finished enrollments per status, kept by triggers

The workflows list counted each shown workflow's enrollments per status on every view, and
a workflow's page and the API its own: a grouped count over the (workflow, status) index.
Every purchase enrolls its buyer into each purchase workflow, so that index grows without
end: 2.5 million entries took 0.27 s for one page of workflows on this 2-core box, and the
xl benchmark's batches leave 15 million.

Almost all of them are finished (completed, converted, exited, failed) and seldom change again. Those are counted here; the open ones (active, waiting, held: the customers
in the workflow now) are still counted live, from the same index, a count bounded by what is
in flight rather than by history.

The table holds deltas, as segment_reachable_counts does: on PostgreSQL rows are only ever
inserted (folded into one row per workflow and status by a periodic job), so runners
finishing enrollments of the same workflow never wait for one another on a counter row.

Triggers on automation_enrollments keep it, so none of its writers can forget it (the
runner's steps, exits, goals, an erased customer's or a deleted workflow's cascade):
- PostgreSQL: statement triggers with transition tables for UPDATE and DELETE, one grouped
  INSERT per statement however many rows it touched; an UPDATE that finishes nothing adds
  nothing. A DELETE writes only for workflows still there: a deleted workflow's (or
  tenant's) rows go with it by cascade. An INSERT is a row trigger whose WHEN passes over
  open enrollments, so a purchase enrolling its buyer into fifty workflows pays nothing (a
  statement trigger over every insert cost it 0.4-0.5 ms, a tenth of its time).
- SQLite: row triggers that move the workflow's row for the status, or make it.

The finished enrollments already there are counted here, in one INSERT ... SELECT.

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

# Finished: any status but webapp.models.workflow.OPEN_STATUSES as of this revision.
FINISHED = "NOT IN ('active', 'waiting', 'held')"
_INSERT = "INSERT INTO workflow_enrollment_counts (workflow_id, tenant_id, status, enrollments) "

POSTGRES_FUNCTIONS = [f"""
CREATE FUNCTION workflow_enrollment_counts_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status {FINISHED} THEN
        {_INSERT} VALUES (OLD.workflow_id, OLD.tenant_id, OLD.status, -1);
    END IF;
    IF TG_OP = 'INSERT' OR NEW.status {FINISHED} THEN
        {_INSERT} VALUES (NEW.workflow_id, NEW.tenant_id, NEW.status, 1);
    END IF;
    RETURN NULL;
END $$
""", f"""
CREATE FUNCTION workflow_enrollment_counts_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_INSERT}
    SELECT g.workflow_id, w.tenant_id, g.status, -g.n FROM (
        SELECT workflow_id, status, count(*) AS n FROM old_rows WHERE status {FINISHED}
        GROUP BY workflow_id, status) AS g
    JOIN automation_workflows w ON w.id = g.workflow_id JOIN tenants t ON t.id = w.tenant_id;
    RETURN NULL;
END $$
"""]
# Row triggers whose WHEN passes over every write that finishes nothing: enrolling (always
# open), a purchase's updates of its buyer's open enrollments, the runner's steps. A
# statement trigger on UPDATE fired for each of those statements, finished or not, and cost
# a purchase enrolling its buyer into fifty workflows 0.7 ms of its 7.4.
_FINISHING = (f"(OLD.status {FINISHED} OR NEW.status {FINISHED}) "
              "AND (OLD.status IS DISTINCT FROM NEW.status OR OLD.workflow_id IS DISTINCT FROM NEW.workflow_id)")
POSTGRES_TRIGGERS = {
    'workflow_enrollment_counts_insert': (f'AFTER INSERT ON automation_enrollments FOR EACH ROW '
                                          f'WHEN (NEW.status {FINISHED}) '
                                          f'EXECUTE FUNCTION workflow_enrollment_counts_row()'),
    'workflow_enrollment_counts_update': (f'AFTER UPDATE OF workflow_id, status ON automation_enrollments '
                                          f'FOR EACH ROW WHEN ({_FINISHING}) '
                                          f'EXECUTE FUNCTION workflow_enrollment_counts_row()'),
    # Deletes come in bulk (a workflow's or an erased customer's cascade): one statement.
    'workflow_enrollment_counts_delete': ('AFTER DELETE ON automation_enrollments '
                                          'REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT '
                                          'EXECUTE FUNCTION workflow_enrollment_counts_deleted()'),
}

# SQLite: the row of (workflow, status) moves by `delta`, or is made.
_SQLITE_ADD = """
    UPDATE workflow_enrollment_counts SET enrollments = enrollments + {delta}
    WHERE workflow_id = {row}.workflow_id AND status = {row}.status;
    INSERT INTO workflow_enrollment_counts (workflow_id, tenant_id, status, enrollments)
    SELECT {row}.workflow_id, {row}.tenant_id, {row}.status, {delta} WHERE NOT EXISTS (
        SELECT 1 FROM workflow_enrollment_counts WHERE workflow_id = {row}.workflow_id AND status = {row}.status);
"""
_MOVED = "(NEW.status IS NOT OLD.status OR NEW.workflow_id IS NOT OLD.workflow_id)"
SQLITE_TRIGGERS = {
    'workflow_enrollment_counts_insert': (f"AFTER INSERT ON automation_enrollments WHEN NEW.status {FINISHED} BEGIN"
                                          + _SQLITE_ADD.format(row="NEW", delta=1) + "END"),
    'workflow_enrollment_counts_update_new': (
        f"AFTER UPDATE OF workflow_id, status ON automation_enrollments WHEN {_MOVED} AND NEW.status {FINISHED} BEGIN"
        + _SQLITE_ADD.format(row="NEW", delta=1) + "END"),
    'workflow_enrollment_counts_update_old': (
        f"AFTER UPDATE OF workflow_id, status ON automation_enrollments WHEN {_MOVED} AND OLD.status {FINISHED} BEGIN"
        + _SQLITE_ADD.format(row="OLD", delta=-1) + "END"),
    'workflow_enrollment_counts_delete': (
        f"AFTER DELETE ON automation_enrollments WHEN OLD.status {FINISHED} "
        "AND EXISTS (SELECT 1 FROM automation_workflows WHERE id = OLD.workflow_id) BEGIN"
        + _SQLITE_ADD.format(row="OLD", delta=-1) + "END"),
}
REBUILD = (_INSERT + "SELECT workflow_id, min(tenant_id), status, count(*) FROM automation_enrollments "
           f"WHERE status {FINISHED} GROUP BY workflow_id, status")


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
        op.execute('DROP FUNCTION IF EXISTS workflow_enrollment_counts_deleted()')
        op.execute('DROP FUNCTION IF EXISTS workflow_enrollment_counts_row()')
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f'DROP TRIGGER IF EXISTS {name}')
    op.drop_index('ix_workflow_enrollment_counts_workflow', table_name='workflow_enrollment_counts')
    op.drop_table('workflow_enrollment_counts')
