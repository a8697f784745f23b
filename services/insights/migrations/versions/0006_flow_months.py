"""the month each flow's member first checked in (报到) and returned, for the dashboard's monthly trends (issue 12)

Revision ID: 0006
Revises: 0005
"""

from alembic import op

from jinqiao.kit import migrations as kit

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """One row per flow and kind under its origin county: a redelivered event finds its row and adds nothing."""
    op.execute(
        """
        CREATE TABLE flow_months (
            tenant_id text NOT NULL,
            flow_id text NOT NULL,
            kind text NOT NULL CHECK (kind IN ('CHECKED_IN', 'RETURNED')),
            month text NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, flow_id, kind)
        )
        """
    )
    # The trends count per county, kind and month.
    op.execute("CREATE INDEX flow_months_buckets ON flow_months (tenant_id, kind, month)")
    # The dashboard's version mark looks for the latest change of a scope.
    op.execute("CREATE INDEX flow_facts_changed ON flow_facts (tenant_id, updated_at)")
    kit.enable_scope_rls("flow_months")


def downgrade() -> None:
    """Drop everything this revision created."""
    op.execute("DROP INDEX IF EXISTS flow_facts_changed")
    op.execute("DROP TABLE IF EXISTS flow_months")
