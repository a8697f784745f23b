"""lifecycle: the province's retention policy enforced per kind of record (issue 18, kit/lifecycle.py)

Revision ID: 0015
Revises: 0014
"""

from jinqiao.kit import lifecycle
from jinqiao.kit import migrations as kit

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Audit anchors, and the function pruning dead letters across counties."""
    kit.create_audit_anchors()
    kit.create_lifecycle_functions(lifecycle.DEAD_LETTERS)


def downgrade() -> None:
    """Drop them."""
    kit.drop_lifecycle_functions(lifecycle.DEAD_LETTERS)
    kit.drop_audit_anchors()
