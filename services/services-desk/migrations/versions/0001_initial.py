"""the kit's shared tables: audit log, inbox, dead letters

Revision ID: 0001
Revises:
"""

from jinqiao.kit import migrations as kit

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the kit's tables; the service's own come in later revisions."""
    kit.create_inbox()
    kit.create_dead_letters()
    kit.create_audit_log()


def downgrade() -> None:
    """Drop everything this revision created."""
    kit.drop_audit_log()
    kit.drop_dead_letters()
    kit.drop_inbox()
