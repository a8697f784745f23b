"""lifecycle: the province's retention policy enforced per kind of record (issue 18, kit/lifecycle.py)

Revision ID: 0014
Revises: 0013
"""

from jinqiao.kit import lifecycle
from jinqiao.kit import migrations as kit
from jinqiao.registry.lifecycle import KINDS

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Audit anchors, and the functions pruning dead letters and closed flows across counties."""
    kit.create_audit_anchors()
    kit.create_lifecycle_functions(lifecycle.DEAD_LETTERS, *KINDS)


def downgrade() -> None:
    """Drop them."""
    kit.drop_lifecycle_functions(lifecycle.DEAD_LETTERS, *KINDS)
    kit.drop_audit_anchors()
