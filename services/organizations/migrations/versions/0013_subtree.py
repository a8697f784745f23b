"""CONTRACT (issue 16, helper h4): what subtree pages need in the schema to go faster.

Revision ID: 0013
Revises: 0012
"""

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet; the helper fills it in or leaves it empty with a note."""


def downgrade() -> None:
    """Nothing yet."""
