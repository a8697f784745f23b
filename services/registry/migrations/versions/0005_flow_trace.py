"""the trace of a flow's first step, carried by every later event of the saga (DESIGN §3)

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Keep the W3C traceparent of the 外出登记 on the flow."""
    op.execute("ALTER TABLE flows ADD COLUMN traceparent text NOT NULL DEFAULT ''")


def downgrade() -> None:
    """Drop it."""
    op.execute("ALTER TABLE flows DROP COLUMN traceparent")
