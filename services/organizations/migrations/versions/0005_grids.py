"""grids (网格) under stations and townships

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
    """A grid belongs to one station or township, has one leader and covers addresses and members."""
    op.execute(
        """
        CREATE TABLE grids (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            org_id uuid NOT NULL,
            name text NOT NULL,
            leader_officer_id uuid,
            addresses text[] NOT NULL DEFAULT '{}',
            member_ids uuid[] NOT NULL DEFAULT '{}',
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id),
            UNIQUE (tenant_id, org_id, name),
            FOREIGN KEY (tenant_id, org_id) REFERENCES orgs (tenant_id, id),
            FOREIGN KEY (tenant_id, leader_officer_id) REFERENCES officers (tenant_id, id)
        )
        """
    )
    kit.enable_tenant_rls("grids")


def downgrade() -> None:
    """Drop the grids."""
    op.execute("DROP TABLE IF EXISTS grids")
