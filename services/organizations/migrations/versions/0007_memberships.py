"""temporary memberships (临时组织关系) at the placing county, their activities, assessments and check-in codes

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
    """One row per placement attempt of a flow; only what the destination needs (never a full ID number)."""
    op.execute(
        """
        CREATE TABLE memberships (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            origin_tenant_id text NOT NULL,
            flow_id uuid NOT NULL,
            member_id uuid NOT NULL,
            attempt integer NOT NULL,
            member_name text NOT NULL,
            id_number_masked text NOT NULL DEFAULT '',
            phone_enc bytea,
            phone_masked text NOT NULL DEFAULT '',
            gender text NOT NULL DEFAULT '',
            industry text NOT NULL DEFAULT '',
            employer text NOT NULL DEFAULT '',
            address text NOT NULL DEFAULT '',
            destination_code text NOT NULL,
            org_id uuid,
            rule smallint,
            reason text NOT NULL DEFAULT '',
            advice text NOT NULL DEFAULT '',
            status smallint NOT NULL,
            refusal_reason text NOT NULL DEFAULT '',
            check_in_at timestamptz,
            check_in_method text NOT NULL DEFAULT '',
            close_reason text NOT NULL DEFAULT '',
            closed_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            version bigint NOT NULL DEFAULT 1,
            PRIMARY KEY (tenant_id, id),
            UNIQUE (tenant_id, flow_id, attempt),
            FOREIGN KEY (tenant_id, org_id) REFERENCES orgs (tenant_id, id),
            CHECK (status BETWEEN 1 AND 4),
            CHECK (status = 3 OR org_id IS NOT NULL)
        )
        """
    )
    # The list is newest first, optionally by status; the org filter joins orgs by path and then sorts.
    op.execute("CREATE INDEX memberships_newest ON memberships (tenant_id, created_at DESC, id DESC)")
    op.execute("CREATE INDEX memberships_by_status ON memberships (tenant_id, status, created_at DESC, id DESC)")
    op.execute("CREATE INDEX memberships_by_org ON memberships (tenant_id, org_id, created_at DESC, id DESC)")
    # A member checking in by code is found by its home county and member id.
    op.execute("CREATE INDEX memberships_by_member ON memberships (tenant_id, origin_tenant_id, member_id)")
    op.execute(
        """
        CREATE TABLE flow_closures (
            tenant_id text NOT NULL,
            flow_id uuid NOT NULL,
            -- The flow ended (RETURNED, TRANSFERRED, CANCELLED): no attempt may open a membership any more.
            closed_reason text NOT NULL DEFAULT '',
            -- Attempts below this one were superseded by a redirect, even those that have not arrived yet.
            closed_below_attempt integer NOT NULL DEFAULT 0,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, flow_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE membership_activities (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            membership_id uuid NOT NULL,
            occurred_on date NOT NULL,
            title text NOT NULL,
            note text NOT NULL DEFAULT '',
            recorded_by text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id),
            FOREIGN KEY (tenant_id, membership_id) REFERENCES memberships (tenant_id, id)
        )
        """
    )
    op.execute("CREATE INDEX membership_activities_by_membership ON membership_activities"
               " (tenant_id, membership_id, occurred_on DESC)")
    op.execute(
        """
        CREATE TABLE membership_assessments (
            tenant_id text NOT NULL,
            membership_id uuid NOT NULL,
            year integer NOT NULL,
            grade text NOT NULL,
            comment text NOT NULL DEFAULT '',
            assessed_by text NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, membership_id, year),
            FOREIGN KEY (tenant_id, membership_id) REFERENCES memberships (tenant_id, id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE checkin_codes (
            tenant_id text NOT NULL,
            org_id uuid NOT NULL,
            secret text NOT NULL,
            created_by text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, org_id),
            FOREIGN KEY (tenant_id, org_id) REFERENCES orgs (tenant_id, id)
        )
        """
    )
    for table in ("memberships", "flow_closures", "membership_activities", "membership_assessments",
                  "checkin_codes"):
        kit.enable_tenant_rls(table)


def downgrade() -> None:
    """Drop what this revision created."""
    for table in ("checkin_codes", "membership_assessments", "membership_activities", "flow_closures",
                  "memberships"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
