"""CONTRACT (issue 16, helper h3): what the member import needs in the schema to go faster.

Revision ID: 0011
Revises: 0010
"""

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet; the helper fills it in or leaves it empty with a note."""


def downgrade() -> None:
    """Nothing yet."""
