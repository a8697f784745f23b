"""the repayments sweep visits a loan once a day, and only when a due date is near or passed (issue 14)

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The day each loan was last swept; the sweep's candidates by next due date."""
    op.execute("ALTER TABLE loans ADD COLUMN swept_on date")
    op.execute("CREATE INDEX loans_sweep ON loans (tenant_id, next_due_date) WHERE status = 6")


def downgrade() -> None:
    """Drop the column and its index."""
    op.execute("DROP INDEX IF EXISTS loans_sweep")
    op.execute("ALTER TABLE loans DROP COLUMN IF EXISTS swept_on")
