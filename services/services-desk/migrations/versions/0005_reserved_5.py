"""reserved for the desk's calendar (helper: calendar + SLA) (issue 13): columns or indexes added while it was built

Revision ID: 0005
Revises: 0004
"""

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
