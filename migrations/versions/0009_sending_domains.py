"""create sending domains, with an unverified domain for every From address already saved

Revision ID: 0009_sending_domains
Revises: 0008_user_sessions
Create Date: 2026-12-03 17:31:05.457169

"""
import secrets

from alembic import op
import sqlalchemy as sa
import webapp.infra.types  # noqa: F401  (custom column types)
from webapp.infra.types import utcnow


# revision identifiers, used by Alembic.
revision = '0009_sending_domains'
down_revision = '0008_user_sessions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sending_domains',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('verification_token', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('verified_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_checked_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_check_error', sa.Text(), nullable=True),
    sa.Column('created_at', webapp.infra.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_sending_domains_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sending_domains')),
    sa.UniqueConstraint('tenant_id', 'domain', name='uq_sending_domains_tenant_domain')
    )
    with op.batch_alter_table('sending_domains', schema=None) as batch_op:
        batch_op.create_index('uq_sending_domains_verified_domain', ['domain'], unique=True, sqlite_where=sa.text("status = 'verified'"), postgresql_where=sa.text("status = 'verified'"))

    _add_domains_of_saved_senders()


def _domain_of(address):
    # Addresses were stored normalised (lower-case, as email_validator wrote them).
    local, at, domain = (address or "").strip().lower().rpartition("@")
    domain = domain.rstrip(".")
    return domain if at and local and domain else None


def _add_domains_of_saved_senders():
    """Every tenant's sender email and every campaign's from_email stay valid: their
    domains become the tenant's sending domains, unverified (nothing is proven yet)."""
    conn = op.get_bind()
    saved = conn.execute(sa.text(
        "SELECT id, sender_email FROM tenants WHERE sender_email IS NOT NULL "
        "UNION SELECT DISTINCT tenant_id, from_email FROM email_campaigns WHERE from_email IS NOT NULL")).all()
    wanted = sorted({(tenant_id, domain) for tenant_id, address in saved
                     if (domain := _domain_of(address)) is not None})
    if not wanted:
        return
    table = sa.table('sending_domains', sa.column('tenant_id', sa.Integer()), sa.column('domain', sa.String()),
                     sa.column('verification_token', sa.String()), sa.column('status', sa.String()),
                     sa.column('created_at', webapp.infra.types.UTCDateTime(timezone=True)))
    now = utcnow()
    op.bulk_insert(table, [{"tenant_id": tenant_id, "domain": domain[:253], "verification_token": secrets.token_hex(16),
                            "status": "unverified", "created_at": now} for tenant_id, domain in wanted])


def downgrade():
    with op.batch_alter_table('sending_domains', schema=None) as batch_op:
        batch_op.drop_index('uq_sending_domains_verified_domain', sqlite_where=sa.text("status = 'verified'"), postgresql_where=sa.text("status = 'verified'"))

    op.drop_table('sending_domains')
