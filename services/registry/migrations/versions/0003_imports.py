"""member imports (台账 files) and the set-based province-wide duplicate check

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from jinqiao.kit import migrations as kit

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create member_imports under RLS, and the set-based variant of the registered-elsewhere check."""
    op.execute(
        """
        CREATE TABLE member_imports (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            file_name text NOT NULL,
            format smallint NOT NULL,
            state smallint NOT NULL,
            total_rows integer NOT NULL DEFAULT 0,
            processed_rows integer NOT NULL DEFAULT 0,
            imported_rows integer NOT NULL DEFAULT 0,
            error_count integer NOT NULL DEFAULT 0,
            errors jsonb NOT NULL DEFAULT '[]'::jsonb,
            errors_truncated boolean NOT NULL DEFAULT false,
            failure_reason text NOT NULL DEFAULT '',
            actor text NOT NULL,
            request_id text,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT member_imports_request_unique UNIQUE (tenant_id, request_id)
        )
        """
    )
    op.execute("CREATE INDEX member_imports_newest ON member_imports (tenant_id, created_at DESC, id DESC)")
    kit.enable_tenant_rls("member_imports")
    # An import checks thousands of people at once; like the per-person function of 0002 it answers only which
    # of the given blind indexes another county holds, never which county or which record.
    op.execute(
        """
        CREATE FUNCTION members_registered_elsewhere_all_tenants(p_bidx bytea[], p_tenant text) RETURNS SETOF bytea
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
            SELECT DISTINCT id_number_bidx FROM members
            WHERE id_number_bidx = ANY (p_bidx) AND tenant_id <> p_tenant AND record_status = 1
        $$
        """
    )


def downgrade() -> None:
    """Drop everything this revision created."""
    op.execute("DROP FUNCTION IF EXISTS members_registered_elsewhere_all_tenants(bytea[], text)")
    op.execute("DROP TABLE IF EXISTS member_imports")
