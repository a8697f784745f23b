"""per-flow facts of each origin county, for the flow matrix, coverage and overdue 报到

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from jinqiao.kit import migrations as kit

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """One row per flow under its origin county; merged facts plus the derived figures the aggregates count."""
    op.execute(
        """
        CREATE TABLE flow_facts (
            tenant_id text NOT NULL,
            flow_id text NOT NULL,
            registered boolean NOT NULL DEFAULT false,
            month text CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
            destination_code text NOT NULL DEFAULT '',
            industry text NOT NULL DEFAULT '',
            placement_attempt integer NOT NULL DEFAULT 0,
            attempt integer NOT NULL DEFAULT 0,
            offered boolean NOT NULL DEFAULT false,
            placed boolean NOT NULL DEFAULT false,
            refused boolean NOT NULL DEFAULT false,
            checked_in boolean NOT NULL DEFAULT false,
            membership_closed boolean NOT NULL DEFAULT false,
            overdue boolean NOT NULL DEFAULT false,
            closed boolean NOT NULL DEFAULT false,
            status text NOT NULL DEFAULT 'WAITING'
                CHECK (status IN ('WAITING', 'REFUSED', 'OFFERED', 'MANAGED', 'CLOSED')),
            held boolean NOT NULL DEFAULT false,
            overdue_pending boolean NOT NULL DEFAULT false,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, flow_id)
        )
        """
    )
    # The matrix groups registered flows by origin, month, destination and industry.
    op.execute(
        "CREATE INDEX flow_facts_matrix ON flow_facts (tenant_id, month, destination_code, industry)"
        " WHERE registered"
    )
    # Coverage and unorganised destinations look only at open flows.
    op.execute(
        "CREATE INDEX flow_facts_open ON flow_facts (tenant_id, destination_code)"
        " INCLUDE (status, held, overdue_pending, month, industry) WHERE registered AND NOT closed"
    )
    kit.enable_scope_rls("flow_facts")


def downgrade() -> None:
    """Drop everything this revision created."""
    op.execute("DROP TABLE IF EXISTS flow_facts")
