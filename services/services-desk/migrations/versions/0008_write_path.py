"""CONTRACT (issue 16, helper h2): what ticket creation needs in the schema to go faster.

Revision ID: 0008
Revises: 0007
"""

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing needed: a ticket and its first history entry share one statement on existing tables."""


def downgrade() -> None:
    """Nothing needed: upgrade adds nothing."""
