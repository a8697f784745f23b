"""CONTRACT (issue 16, helper h2): what ticket creation needs in the schema to go faster.

Revision ID: 0008
Revises: 0007
"""

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet; the helper fills it in or leaves it empty with a note."""


def downgrade() -> None:
    """Nothing yet."""
