"""lifecycle: the province's retention policy enforced per kind of record (issue 18, kit/lifecycle.py)

Revision ID: 0010
Revises: 0009
"""

from jinqiao.kit import lifecycle
from jinqiao.kit import migrations as kit

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The function pruning dead letters across counties (insights keeps no audit log)."""
    kit.create_lifecycle_functions(lifecycle.DEAD_LETTERS)


def downgrade() -> None:
    """Drop them."""
    kit.drop_lifecycle_functions(lifecycle.DEAD_LETTERS)
