"""党员先锋贷 and other micro-loans: programmes, loans, review steps, schedules, repayments, reminders (issue 14)

Money is integer 分 (bigint) and rates basis points (integer) everywhere; the database refuses a programme whose
committed amount exceeds its quota, so no interleaving of approvals can overrun it. The replica's members gain the
facts eligibility is checked against (registry's MemberProfileChanged).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from jinqiao.kit import migrations as kit

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TABLES = [
    "loan_programmes", "loan_counters", "loans", "loan_steps", "loan_instalments", "loan_repayments",
    "loan_reminders", "loan_attachments",
]


def upgrade() -> None:
    """Create the loan tables under forced RLS, and the replica's member facts."""
    # ---- replica: the facts a programme's rules are checked against (birth year only, never a birth date).
    op.execute(
        """
        ALTER TABLE desk_members
            ADD COLUMN membership_status text NOT NULL DEFAULT '',
            ADD COLUMN join_date date,
            ADD COLUMN birth_year integer NOT NULL DEFAULT 0,
            ADD COLUMN latest_grade text NOT NULL DEFAULT '',
            ADD COLUMN latest_grade_year integer NOT NULL DEFAULT 0,
            ADD COLUMN returned boolean NOT NULL DEFAULT false,
            ADD COLUMN facts_at timestamptz
        """
    )
    op.execute(
        """
        CREATE TABLE loan_programmes (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            name text NOT NULL,
            description text NOT NULL DEFAULT '',
            product smallint NOT NULL,
            sponsor smallint NOT NULL DEFAULT 1,
            shared_code text NOT NULL DEFAULT '',
            bank_code text NOT NULL,
            bank_name text NOT NULL,
            cap_per_person_fen bigint NOT NULL CHECK (cap_per_person_fen > 0),
            min_amount_fen bigint NOT NULL DEFAULT 0 CHECK (min_amount_fen >= 0),
            max_term_months integer NOT NULL CHECK (max_term_months BETWEEN 1 AND 360),
            methods smallint[] NOT NULL,
            rate_bp integer NOT NULL CHECK (rate_bp BETWEEN 0 AND 10000),
            subsidy_bp integer NOT NULL DEFAULT 0 CHECK (subsidy_bp >= 0 AND subsidy_bp <= rate_bp),
            total_quota_fen bigint NOT NULL CHECK (total_quota_fen > 0),
            committed_fen bigint NOT NULL DEFAULT 0,
            window_start date NOT NULL,
            window_end date,
            rules jsonb NOT NULL DEFAULT '{}'::jsonb,
            township_final_up_to_fen bigint NOT NULL DEFAULT 0 CHECK (township_final_up_to_fen >= 0),
            review_days integer NOT NULL DEFAULT 5 CHECK (review_days BETWEEN 1 AND 60),
            bank_days integer NOT NULL DEFAULT 10 CHECK (bank_days BETWEEN 1 AND 60),
            active boolean NOT NULL DEFAULT true,
            request_id text,
            created_by text NOT NULL,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            version integer NOT NULL DEFAULT 1,
            PRIMARY KEY (tenant_id, id),
            UNIQUE (tenant_id, request_id),
            -- The quota's last line of defence: whatever the code does, committed never passes the quota.
            CONSTRAINT loan_programmes_within_quota CHECK (committed_fen >= 0 AND committed_fen <= total_quota_fen),
            CONSTRAINT loan_programmes_window CHECK (window_end IS NULL OR window_end >= window_start)
        )
        """
    )
    # Loan numbers per county and year (贷2026-000001), as ticket_counters.
    op.execute(
        """
        CREATE TABLE loan_counters (
            tenant_id text NOT NULL,
            year integer NOT NULL,
            last integer NOT NULL DEFAULT 0,
            PRIMARY KEY (tenant_id, year)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE loans (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            number text NOT NULL,
            programme_id uuid NOT NULL,
            member_id uuid NOT NULL,
            member_name text NOT NULL DEFAULT '',
            home_org_id uuid,
            township text NOT NULL DEFAULT '',
            amount_fen bigint NOT NULL CHECK (amount_fen > 0),
            term_months integer NOT NULL CHECK (term_months BETWEEN 1 AND 360),
            method smallint NOT NULL,
            purpose text NOT NULL,
            business_plan text NOT NULL DEFAULT '',
            status smallint NOT NULL,
            pending_tier smallint NOT NULL DEFAULT 0,
            step_due_at timestamptz,
            step_overdue_sent boolean NOT NULL DEFAULT false,
            channel smallint NOT NULL,
            applied_by text NOT NULL,
            request_id text,
            eligibility jsonb NOT NULL DEFAULT '[]'::jsonb,
            refused_tier smallint NOT NULL DEFAULT 0,
            refusal_reason text NOT NULL DEFAULT '',
            -- What the final public approval committed of the programme's quota (released on decline/withdrawal).
            committed_fen bigint NOT NULL DEFAULT 0 CHECK (committed_fen >= 0),
            granted_amount_fen bigint NOT NULL DEFAULT 0,
            rate_bp integer NOT NULL DEFAULT 0,
            subsidy_bp integer NOT NULL DEFAULT 0,
            disbursed_on date,
            disburse_request_id text,
            outstanding_principal_fen bigint NOT NULL DEFAULT 0 CHECK (outstanding_principal_fen >= 0),
            overdue_fen bigint NOT NULL DEFAULT 0 CHECK (overdue_fen >= 0),
            days_past_due integer NOT NULL DEFAULT 0,
            next_due_date date,
            next_due_fen bigint NOT NULL DEFAULT 0,
            settled_on date,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            version integer NOT NULL DEFAULT 1,
            PRIMARY KEY (tenant_id, id),
            UNIQUE (tenant_id, number),
            UNIQUE (tenant_id, request_id)
        )
        """
    )
    op.execute("CREATE INDEX loans_list ON loans (tenant_id, created_at DESC, id)")
    op.execute("CREATE INDEX loans_member ON loans (tenant_id, member_id)")
    op.execute("CREATE INDEX loans_programme ON loans (tenant_id, programme_id, status)")
    op.execute("CREATE INDEX loans_step_due ON loans (tenant_id, step_due_at) WHERE pending_tier <> 0")
    op.execute("CREATE INDEX loans_repaying ON loans (tenant_id, next_due_date) WHERE status = 6")
    op.execute(
        """
        CREATE TABLE loan_steps (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            loan_id uuid NOT NULL,
            action text NOT NULL,
            tier smallint NOT NULL DEFAULT 0,
            actor text NOT NULL,
            body text NOT NULL DEFAULT '',
            created_at timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )
        """
    )
    op.execute("CREATE INDEX loan_steps_loan ON loan_steps (tenant_id, loan_id, created_at)")
    op.execute(
        """
        CREATE TABLE loan_instalments (
            tenant_id text NOT NULL,
            loan_id uuid NOT NULL,
            seq integer NOT NULL CHECK (seq >= 1),
            due_date date NOT NULL,
            principal_fen bigint NOT NULL CHECK (principal_fen >= 0),
            interest_fen bigint NOT NULL CHECK (interest_fen >= 0),
            subsidy_fen bigint NOT NULL CHECK (subsidy_fen >= 0 AND subsidy_fen <= interest_fen),
            balance_after_fen bigint NOT NULL CHECK (balance_after_fen >= 0),
            paid_principal_fen bigint NOT NULL DEFAULT 0 CHECK (paid_principal_fen BETWEEN 0 AND principal_fen),
            paid_interest_fen bigint NOT NULL DEFAULT 0,
            paid_on date,
            PRIMARY KEY (tenant_id, loan_id, seq)
        )
        """
    )
    op.execute("CREATE INDEX loan_instalments_due ON loan_instalments (tenant_id, due_date) WHERE paid_on IS NULL")
    op.execute(
        """
        CREATE TABLE loan_repayments (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            loan_id uuid NOT NULL,
            request_id text NOT NULL,
            amount_fen bigint NOT NULL CHECK (amount_fen > 0),
            paid_on date NOT NULL,
            principal_fen bigint NOT NULL,
            interest_fen bigint NOT NULL,
            recorded_by text NOT NULL,
            created_at timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, id),
            UNIQUE (tenant_id, loan_id, request_id)
        )
        """
    )
    # Each reminder (kind: due_7, due_3, due_1, overdue_1, overdue_7, overdue_30, step) is sent once.
    op.execute(
        """
        CREATE TABLE loan_reminders (
            tenant_id text NOT NULL,
            loan_id uuid NOT NULL,
            seq integer NOT NULL,
            kind text NOT NULL,
            sent_at timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, loan_id, seq, kind)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE loan_attachments (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            loan_id uuid NOT NULL,
            filename text NOT NULL,
            content_type text NOT NULL,
            size_bytes bigint NOT NULL,
            sha256 text NOT NULL,
            content_enc bytea NOT NULL,
            uploaded_by text NOT NULL,
            created_at timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )
        """
    )
    op.execute("CREATE INDEX loan_attachments_loan ON loan_attachments (tenant_id, loan_id, created_at)")
    for table in _TABLES:
        kit.enable_tenant_rls(table)
    # The reminder sweep visits county by county; this names the counties with a loan being repaid.
    op.execute(
        """
        CREATE FUNCTION counties_with_loans_due_all_tenants() RETURNS SETOF text
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
            SELECT DISTINCT tenant_id FROM loans WHERE status = 6 OR (pending_tier <> 0 AND NOT step_overdue_sent)
            ORDER BY 1
        $$
        """
    )


def downgrade() -> None:
    """Drop everything this revision created."""
    op.execute("DROP FUNCTION IF EXISTS counties_with_loans_due_all_tenants()")
    for table in reversed(_TABLES):
        op.execute(f"DROP TABLE IF EXISTS {table}")
    op.execute(
        """
        ALTER TABLE desk_members
            DROP COLUMN IF EXISTS membership_status, DROP COLUMN IF EXISTS join_date,
            DROP COLUMN IF EXISTS birth_year, DROP COLUMN IF EXISTS latest_grade,
            DROP COLUMN IF EXISTS latest_grade_year, DROP COLUMN IF EXISTS returned, DROP COLUMN IF EXISTS facts_at
        """
    )
