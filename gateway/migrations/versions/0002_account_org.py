"""accounts bound to an organisation (township officers, station staff, branch secretaries)

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the organisation and return it from the login function."""
    op.execute("ALTER TABLE accounts ADD COLUMN acting_org text")
    op.execute("DROP FUNCTION account_for_login_all_tenants(text)")
    op.execute(
        """
        CREATE FUNCTION account_for_login_all_tenants(p_username text)
        RETURNS TABLE (username text, password_hash text, role text, scope text, acting_tenant text,
                       disabled boolean, acting_org text)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
            SELECT username, password_hash, role, scope, acting_tenant, disabled, acting_org
            FROM accounts WHERE username = p_username
        $$
        """
    )


def downgrade() -> None:
    """Back to accounts without an organisation."""
    op.execute("DROP FUNCTION account_for_login_all_tenants(text)")
    op.execute("ALTER TABLE accounts DROP COLUMN acting_org")
    op.execute(
        """
        CREATE FUNCTION account_for_login_all_tenants(p_username text)
        RETURNS TABLE (username text, password_hash text, role text, scope text, acting_tenant text,
                       disabled boolean)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
            SELECT username, password_hash, role, scope, acting_tenant, disabled
            FROM accounts WHERE username = p_username
        $$
        """
    )
