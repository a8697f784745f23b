"""bank clients: a partner bank's own system as a service account of the county (issue 14)

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Service accounts gain a kind: a county system (named permissions) or a partner bank (its bank code)."""
    # A bank client holds what the bank_officer role holds, in its bank only: it is given no permissions of its own,
    # and the code it acts for is fixed when it is made.
    op.execute("ALTER TABLE service_accounts ADD COLUMN kind text NOT NULL DEFAULT 'county_system'")
    op.execute("ALTER TABLE service_accounts ADD COLUMN bank_code text")
    op.execute(
        """
        ALTER TABLE service_accounts
            ADD CONSTRAINT service_accounts_kind CHECK (kind IN ('county_system', 'bank')),
            ADD CONSTRAINT service_accounts_bank_client CHECK (
                CASE kind
                    -- IS NOT NULL first: a CHECK whose expression is NULL passes.
                    WHEN 'bank' THEN bank_code IS NOT NULL AND bank_code ~ '^[a-z0-9-]{2,32}$'
                                     AND cardinality(permissions) = 0
                    ELSE bank_code IS NULL
                END)
        """
    )


def downgrade() -> None:
    """Drop the bank clients, then the columns."""
    op.execute("DELETE FROM service_accounts WHERE kind = 'bank'")
    op.execute("ALTER TABLE service_accounts DROP CONSTRAINT IF EXISTS service_accounts_bank_client")
    op.execute("ALTER TABLE service_accounts DROP CONSTRAINT IF EXISTS service_accounts_kind")
    op.execute("ALTER TABLE service_accounts DROP COLUMN IF EXISTS bank_code")
    op.execute("ALTER TABLE service_accounts DROP COLUMN IF EXISTS kind")
