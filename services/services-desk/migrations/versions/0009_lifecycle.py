"""lifecycle: the province's retention policy enforced per kind of record (issue 18, kit/lifecycle.py)

Revision ID: 0009
Revises: 0008
"""

from jinqiao.desk.lifecycle import KINDS
from jinqiao.kit import lifecycle
from jinqiao.kit import migrations as kit

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Audit anchors, and the functions pruning dead letters, closed tickets and repaid loans across counties."""
    kit.create_audit_anchors()
    kit.create_lifecycle_functions(lifecycle.DEAD_LETTERS, *KINDS)


def downgrade() -> None:
    """Drop them."""
    kit.drop_lifecycle_functions(lifecycle.DEAD_LETTERS, *KINDS)
    kit.drop_audit_anchors()
