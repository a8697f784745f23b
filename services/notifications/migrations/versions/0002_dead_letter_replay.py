"""dead letters remember their replays: who replayed, when, how often, and the last replay's error (issue 11)

Revision ID: 0002
Revises: 0001
"""

from jinqiao.kit import migrations as kit

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the replay columns and the newest-first index the listing pages through."""
    kit.add_dead_letter_replay()


def downgrade() -> None:
    """Drop what this revision added."""
    kit.drop_dead_letter_replay()
