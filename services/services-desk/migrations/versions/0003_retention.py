"""retention: the functions that prune sent outbox rows and old inbox rows across counties (issue 11, finding 6)

Revision ID: 0003
Revises: 0002
"""

from jinqiao.kit import migrations as kit

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the pruning functions and the indexes they walk (kit/retention.py runs them on a schedule)."""
    kit.create_retention(outbox=False, inbox=True)


def downgrade() -> None:
    """Drop them."""
    kit.drop_retention()
