"""lifecycle: audit rows pruned behind an anchor per the province's retention policy (issue 18, kit/lifecycle.py)

Revision ID: 0010
Revises: 0009
"""

from jinqiao.kit import migrations as kit

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Audit anchors and the audit-row pruning function (the gateway keeps no dead letters)."""
    kit.create_audit_anchors()


def downgrade() -> None:
    """Drop them."""
    kit.drop_audit_anchors()
