"""the county placing each flow's current attempt, so that only its answers count (issue 9)

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the placing county of ``placement_attempt``; rows known so far get it by the registry's rule."""
    op.execute(
        "ALTER TABLE flow_facts ADD COLUMN placing_tenant_id text NOT NULL DEFAULT ''"
        " CHECK (placing_tenant_id ~ '^([0-9]{6})?$')"
    )
    # In the province the destination county places the member; outside it the origin (tenant_id) itself.
    op.execute(
        "UPDATE flow_facts SET placing_tenant_id = CASE WHEN left(destination_code, 2) = left(tenant_id, 2)"
        " THEN destination_code ELSE tenant_id END"
        " WHERE placement_attempt > 0 AND destination_code ~ '^[0-9]{6}$'"
    )


def downgrade() -> None:
    """Drop the column this revision added."""
    op.execute("ALTER TABLE flow_facts DROP COLUMN IF EXISTS placing_tenant_id")
