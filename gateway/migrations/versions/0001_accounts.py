"""accounts of the console users

Revision ID: 0001
Revises:
"""

from alembic import op

from jinqiao.kit import migrations as kit

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Accounts keyed by the scope they belong to; login looks them up through one narrow function."""
    op.execute(
        """
        CREATE TABLE accounts (
            tenant_id text NOT NULL,
            username text NOT NULL,
            password_hash text NOT NULL,
            role text NOT NULL,
            scope text NOT NULL,
            acting_tenant text,
            display_name text NOT NULL DEFAULT '',
            disabled boolean NOT NULL DEFAULT false,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, username),
            CONSTRAINT accounts_username_unique UNIQUE (username)
        )
        """
    )
    kit.enable_tenant_rls("accounts")
    # Login happens before anyone knows the tenant: the only cross-tenant read, one row by name.
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
    kit.create_audit_log()


def downgrade() -> None:
    """Drop everything this revision created."""
    kit.drop_audit_log()
    op.execute("DROP FUNCTION IF EXISTS account_for_login_all_tenants(text)")
    op.execute("DROP TABLE IF EXISTS accounts")
