"""CONTRACT (issue 16, helper h1): the relay woken by commits (LISTEN/NOTIFY) rather than by polling.

Revision ID: 0014
Revises: 0013
"""

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet; the helper fills it in or leaves it empty with a note."""


def downgrade() -> None:
    """Nothing yet."""
