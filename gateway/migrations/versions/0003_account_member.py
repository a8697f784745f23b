"""accounts of members themselves (role member), bound to their own record in the registry

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_LOGIN = """
    CREATE FUNCTION account_for_login_all_tenants(p_username text)
    RETURNS TABLE (username text, password_hash text, role text, scope text, acting_tenant text,
                   disabled boolean, acting_org text{extra_type})
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
        SELECT username, password_hash, role, scope, acting_tenant, disabled, acting_org{extra_column}
        FROM accounts WHERE username = p_username
    $$
"""


def upgrade() -> None:
    """Add the member and return it from the login function."""
    op.execute("ALTER TABLE accounts ADD COLUMN acting_member text")
    op.execute("DROP FUNCTION account_for_login_all_tenants(text)")
    op.execute(_LOGIN.format(extra_type=", acting_member text", extra_column=", acting_member"))


def downgrade() -> None:
    """Back to accounts without a member."""
    op.execute("DROP FUNCTION account_for_login_all_tenants(text)")
    op.execute("ALTER TABLE accounts DROP COLUMN acting_member")
    op.execute(_LOGIN.format(extra_type="", extra_column=""))
