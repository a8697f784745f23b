"""CONTRACT (issue 16, helper h2): what the write path needs in the schema to go faster.

Revision ID: 0013
Revises: 0012
"""

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing needed: the write path folds its statements over the existing schema."""


def downgrade() -> None:
    """Nothing needed: upgrade adds nothing."""
