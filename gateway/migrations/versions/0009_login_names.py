"""login names: the province-wide uniqueness of usernames moves to a table of its own (issue 17, Citus)

Revision ID: 0009
Revises: 0008
"""

from alembic import op

from jinqiao.kit import migrations as kit

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Usernames are unique across the province through ``login_names`` (username → the account's scope),
    not through a unique constraint on ``accounts.username``, which Citus could not enforce across shards."""
    # Login comes before anyone knows the county, so a name must mean one account in the whole province. Sharded by
    # tenant_id, accounts can only hold keys that include it; login_names is small and becomes a Citus reference
    # table (a full copy on every node), whose primary key Citus enforces, and each account points at its row.
    op.execute(
        """
        CREATE TABLE login_names (
            username text PRIMARY KEY,
            tenant_id text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT login_names_tenant_username UNIQUE (tenant_id, username)
        )
        """
    )
    kit.enable_tenant_rls("login_names")
    op.execute("INSERT INTO login_names (username, tenant_id) SELECT username, tenant_id FROM accounts")
    op.execute(
        "ALTER TABLE accounts ADD CONSTRAINT accounts_login_name_fkey FOREIGN KEY (tenant_id, username)"
        " REFERENCES login_names (tenant_id, username)"
    )
    op.execute("ALTER TABLE accounts DROP CONSTRAINT accounts_username_unique")


def downgrade() -> None:
    """Back to the unique constraint on ``accounts.username``."""
    op.execute("ALTER TABLE accounts ADD CONSTRAINT accounts_username_unique UNIQUE (username)")
    op.execute("ALTER TABLE accounts DROP CONSTRAINT accounts_login_name_fkey")
    op.execute("DROP TABLE login_names")
