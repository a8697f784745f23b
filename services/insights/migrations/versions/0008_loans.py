"""the desk's 党员先锋贷 figures: one row of facts per loan, merged from the loan events (issue 14)

Revision ID: 0008
Revises: 0007
"""

from alembic import op

from jinqiao.kit import migrations as kit

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Per-loan facts: counts and sums only ever come from here; no member is named (DESIGN §5)."""
    # The lifecycle flags only ever turn on, so any order of events merges to the same row; the money figures
    # (outstanding principal, overdue amount, overdue flag) are the newest word by the event's occur_time.
    # programme_key (shared code or "programme:<id>"), state, known and the amounts owed now (none once settled)
    # are derived by the domain and stored so the aggregates only group and add.
    op.execute(
        """
        CREATE TABLE loan_facts (
            tenant_id text NOT NULL,
            loan_id text NOT NULL,
            programme_id text NOT NULL DEFAULT '',
            product text NOT NULL DEFAULT '',
            shared_code text NOT NULL DEFAULT '',
            programme_name text NOT NULL DEFAULT '',
            applied boolean NOT NULL DEFAULT false,
            approved boolean NOT NULL DEFAULT false,
            refused boolean NOT NULL DEFAULT false,
            withdrawn boolean NOT NULL DEFAULT false,
            disbursed boolean NOT NULL DEFAULT false,
            settled boolean NOT NULL DEFAULT false,
            amount_fen bigint NOT NULL DEFAULT 0 CHECK (amount_fen >= 0),
            subsidy_fen bigint NOT NULL DEFAULT 0 CHECK (subsidy_fen >= 0),
            outstanding_fen bigint NOT NULL DEFAULT 0 CHECK (outstanding_fen >= 0),
            overdue_fen bigint NOT NULL DEFAULT 0 CHECK (overdue_fen >= 0),
            overdue boolean NOT NULL DEFAULT false,
            figures_at timestamptz,
            programme_key text NOT NULL DEFAULT '',
            state text NOT NULL DEFAULT 'PENDING',
            known boolean NOT NULL DEFAULT false,
            outstanding_now_fen bigint NOT NULL DEFAULT 0,
            overdue_now_fen bigint NOT NULL DEFAULT 0,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, loan_id)
        )
        """
    )
    op.execute("CREATE INDEX loan_facts_cells ON loan_facts (tenant_id, programme_key) WHERE known")
    kit.enable_scope_rls("loan_facts")


def downgrade() -> None:
    """Drop everything this revision created."""
    op.execute("DROP TABLE IF EXISTS loan_facts")
