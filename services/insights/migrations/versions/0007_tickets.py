"""the service desk's 工单 figures per county, month, category and station, and station names (issue 13)

Revision ID: 0007
Revises: 0006
"""

from alembic import op

from jinqiao.kit import migrations as kit

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Counters (the inbox makes each event count once), per-ticket first breaches, categories and stations."""
    # One row per county, Beijing month of the event, category and serving queue ('' = the county's own queue).
    # Resolutions are split by which SLA clocks were met, so the suppression audit sees disjoint parts.
    op.execute(
        """
        CREATE TABLE ticket_months (
            tenant_id text NOT NULL,
            month text NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
            category text NOT NULL,
            serving_org_id text NOT NULL,
            opened bigint NOT NULL DEFAULT 0,
            resolved_both_met bigint NOT NULL DEFAULT 0,
            resolved_first_response_met bigint NOT NULL DEFAULT 0,
            resolved_resolution_met bigint NOT NULL DEFAULT 0,
            resolved_none_met bigint NOT NULL DEFAULT 0,
            rated bigint NOT NULL DEFAULT 0,
            rating_sum bigint NOT NULL DEFAULT 0,
            reopened bigint NOT NULL DEFAULT 0,
            closed bigint NOT NULL DEFAULT 0,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, month, category, serving_org_id)
        )
        """
    )
    kit.enable_scope_rls("ticket_months")
    # A ticket's first SLA breach (the earliest due time of any clock), whichever breach event arrives first.
    op.execute(
        """
        CREATE TABLE ticket_breaches (
            tenant_id text NOT NULL,
            ticket_id text NOT NULL,
            due_at timestamptz NOT NULL,
            month text NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
            category text NOT NULL,
            serving_org_id text NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, ticket_id)
        )
        """
    )
    op.execute("CREATE INDEX ticket_breaches_buckets ON ticket_breaches (tenant_id, month)")
    kit.enable_scope_rls("ticket_breaches")
    # Which group a county's category belongs to, learned from the events that carry it (the latest one wins).
    op.execute(
        """
        CREATE TABLE ticket_categories (
            tenant_id text NOT NULL,
            category text NOT NULL,
            category_group text NOT NULL,
            seen_at timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, category)
        )
        """
    )
    kit.enable_scope_rls("ticket_categories")
    # Organisation names by aggregate version (a rename may overtake the creation); only stations are shown.
    op.execute(
        """
        CREATE TABLE org_names (
            tenant_id text NOT NULL,
            org_id text NOT NULL,
            kind text NOT NULL DEFAULT '',
            name text NOT NULL DEFAULT '',
            name_version bigint NOT NULL DEFAULT -1,
            PRIMARY KEY (tenant_id, org_id)
        )
        """
    )
    kit.enable_scope_rls("org_names")


def downgrade() -> None:
    """Drop everything this revision created."""
    for table in ("org_names", "ticket_categories", "ticket_breaches", "ticket_months"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
