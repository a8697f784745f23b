"""development of new members among migrants (发展党员): applicants, their stages, mentors and inspections

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from jinqiao.kit import migrations as kit

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("applicant_inspections", "applicant_mentors", "applicant_stages", "applicants")


def upgrade() -> None:
    """Create the development tables, all under RLS, each keyed by tenant first."""
    op.execute(
        """
        CREATE TABLE applicants (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            name text NOT NULL,
            gender text NOT NULL CHECK (gender IN ('male', 'female')),
            birth_date date NOT NULL,
            id_number_enc bytea NOT NULL,
            id_number_bidx bytea NOT NULL,
            id_number_masked text NOT NULL,
            phone_enc bytea,
            phone_masked text NOT NULL DEFAULT '',
            township text NOT NULL DEFAULT '',
            village text NOT NULL DEFAULT '',
            destination_code text NOT NULL DEFAULT '',
            employer text NOT NULL DEFAULT '',
            stage smallint NOT NULL CHECK (stage BETWEEN 1 AND 5),
            delegated boolean NOT NULL DEFAULT false,
            delegated_org_name text NOT NULL DEFAULT '',
            request_id text,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            version bigint NOT NULL DEFAULT 1,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT applicants_id_number_unique UNIQUE (tenant_id, id_number_bidx),
            CONSTRAINT applicants_request_unique UNIQUE (tenant_id, request_id)
        )
        """
    )
    op.execute("CREATE INDEX applicants_newest ON applicants (tenant_id, created_at DESC, id DESC)")
    op.execute("CREATE INDEX applicants_stage_newest ON applicants (tenant_id, stage, created_at DESC, id DESC)")
    op.execute(
        """
        CREATE TABLE applicant_stages (
            tenant_id text NOT NULL,
            applicant_id uuid NOT NULL,
            stage smallint NOT NULL CHECK (stage BETWEEN 1 AND 5),
            reached_on date NOT NULL,
            actor text NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, applicant_id, stage),
            FOREIGN KEY (tenant_id, applicant_id) REFERENCES applicants (tenant_id, id) ON DELETE CASCADE
        )
        """
    )
    op.execute(
        """
        CREATE TABLE applicant_mentors (
            tenant_id text NOT NULL,
            applicant_id uuid NOT NULL,
            seq smallint NOT NULL,
            name text NOT NULL,
            side text NOT NULL CHECK (side IN ('HOME', 'DESTINATION')),
            org_name text NOT NULL DEFAULT '',
            phone_enc bytea,
            phone_masked text NOT NULL DEFAULT '',
            PRIMARY KEY (tenant_id, applicant_id, seq),
            FOREIGN KEY (tenant_id, applicant_id) REFERENCES applicants (tenant_id, id) ON DELETE CASCADE
        )
        """
    )
    op.execute(
        """
        CREATE TABLE applicant_inspections (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            applicant_id uuid NOT NULL,
            side text NOT NULL CHECK (side IN ('HOME', 'DESTINATION')),
            inspected_on date NOT NULL,
            inspector text NOT NULL,
            summary text NOT NULL,
            actor text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id),
            FOREIGN KEY (tenant_id, applicant_id) REFERENCES applicants (tenant_id, id) ON DELETE CASCADE
        )
        """
    )
    op.execute("CREATE INDEX applicant_inspections_by_applicant ON applicant_inspections (tenant_id, applicant_id)")
    for table in reversed(TABLES):
        kit.enable_tenant_rls(table)


def downgrade() -> None:
    """Drop everything this revision created."""
    for table in TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table}")
