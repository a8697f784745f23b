"""预警 cases: the fired policy timers grouped by (flow, timer), each with its highest level and how it was handled

A case is opened by the first level that fires and re-opened (level raised) by every later one; an office
acknowledges it and closes it with what was done (issue 12). The fired levels stay in ``flow_alerts`` (the history
of a case). Cases for the alerts fired before this revision are filled in here, open.

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
    """Create ``alert_cases`` under forced RLS and fill it from the alerts already fired."""
    op.execute(
        """
        CREATE TABLE alert_cases (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            flow_id uuid NOT NULL,
            member_id uuid NOT NULL,
            timer text NOT NULL,
            level integer NOT NULL,
            state smallint NOT NULL DEFAULT 1,
            first_fired_at timestamptz NOT NULL,
            last_fired_at timestamptz NOT NULL,
            acknowledged_at timestamptz,
            acknowledged_by text NOT NULL DEFAULT '',
            closed_at timestamptz,
            closed_by text NOT NULL DEFAULT '',
            note text NOT NULL DEFAULT '',
            version integer NOT NULL DEFAULT 1,
            PRIMARY KEY (tenant_id, id),
            UNIQUE (tenant_id, flow_id, timer)
        )
        """
    )
    op.execute("CREATE INDEX alert_cases_active ON alert_cases (tenant_id, state, last_fired_at DESC, id)")
    # The owner reads every county's alerts once, to open their cases; then the table is forced again.
    op.execute("ALTER TABLE flow_alerts NO FORCE ROW LEVEL SECURITY")
    op.execute(
        """
        INSERT INTO alert_cases (tenant_id, id, flow_id, member_id, timer, level, first_fired_at, last_fired_at)
        SELECT tenant_id, gen_random_uuid(), flow_id, min(member_id::text)::uuid, timer, max(level), min(fired_at),
               max(fired_at)
        FROM flow_alerts GROUP BY tenant_id, flow_id, timer
        """
    )
    op.execute("ALTER TABLE flow_alerts FORCE ROW LEVEL SECURITY")
    kit.enable_tenant_rls("alert_cases")


def downgrade() -> None:
    """Drop the cases (the fired alerts stay)."""
    op.execute("DROP TABLE IF EXISTS alert_cases")
