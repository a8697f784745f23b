"""a replica of the county's members (registry's MemberRegistered and MemberTransferred), to verify member ids

Revision ID: 0010
Revises: 0009
"""

from alembic import op

from jinqiao.kit import migrations as kit

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The members the county holds, by id only (no name or number): attendance and grids check ids against it."""
    op.execute(
        """
        CREATE TABLE county_members (
            tenant_id text NOT NULL,
            member_id uuid NOT NULL,
            held boolean NOT NULL DEFAULT true,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, member_id)
        )
        """
    )
    kit.enable_tenant_rls("county_members")


def downgrade() -> None:
    """Drop the replica."""
    op.execute("DROP TABLE IF EXISTS county_members")
