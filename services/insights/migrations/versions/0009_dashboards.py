"""CONTRACT (issue 16, helper h5): what province and city dashboards need over a million-member province.

Revision ID: 0009
Revises: 0008
"""

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet; the helper fills it in or leaves it empty with a note."""


def downgrade() -> None:
    """Nothing yet."""
