"""dead letters remember their replays (who, when, how often, the last replay's error), and insights gets the
kit's audit log, since replaying a dead letter is an audited act (issue 11)

Revision ID: 0004
Revises: 0003
"""

from jinqiao.kit import migrations as kit

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the replay columns, the newest-first index the listing pages through, and the audit log."""
    kit.add_dead_letter_replay()
    kit.create_audit_log()


def downgrade() -> None:
    """Drop what this revision added."""
    kit.drop_audit_log()
    kit.drop_dead_letter_replay()
