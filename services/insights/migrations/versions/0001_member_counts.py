"""member counts per county, with the kit's inbox and dead letters

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
    """Create the read model; reads by scope prefix, writes per county."""
    op.execute(
        """
        CREATE TABLE member_counts (
            tenant_id text NOT NULL PRIMARY KEY,
            members bigint NOT NULL,
            updated_at timestamptz NOT NULL
        )
        """
    )
    kit.enable_scope_rls("member_counts")
    kit.create_inbox()
    kit.create_dead_letters()


def downgrade() -> None:
    """Drop everything this revision created."""
    kit.drop_dead_letters()
    kit.drop_inbox()
    op.execute("DROP TABLE IF EXISTS member_counts")
