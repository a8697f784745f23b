"""the trace of the flow a membership belongs to, carried by every event about it (DESIGN §3)

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Keep the W3C traceparent of the flow's first step on the membership."""
    op.execute("ALTER TABLE memberships ADD COLUMN traceparent text NOT NULL DEFAULT ''")


def downgrade() -> None:
    """Drop it."""
    op.execute("ALTER TABLE memberships DROP COLUMN traceparent")
