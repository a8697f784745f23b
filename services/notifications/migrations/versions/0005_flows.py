"""notifications: the county's own members' open flows and the county placing each, so that a notice another county
publishes about one of them (an offer, a reply to a ticket, a meeting there) is told only when that county is where
the member is placed

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from jinqiao.kit import migrations as kit

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``dir_flows`` under forced RLS."""
    op.execute(
        """
        CREATE TABLE dir_flows (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            member_id uuid NOT NULL,
            placing_tenant_id text NOT NULL,
            attempt integer NOT NULL,
            closed boolean NOT NULL DEFAULT false,
            seen_at timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )
        """
    )
    op.execute("CREATE INDEX dir_flows_member ON dir_flows (tenant_id, member_id) WHERE NOT closed")
    kit.enable_tenant_rls("dir_flows")


def downgrade() -> None:
    """Drop it."""
    op.execute("DROP TABLE IF EXISTS dir_flows")
