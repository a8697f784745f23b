"""retention: the functions that prune sent outbox rows and old inbox rows across counties (issue 11, finding 6)

Revision ID: 0005
Revises: 0004
"""

from jinqiao.kit import migrations as kit

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the pruning functions and the indexes they walk (kit/retention.py runs them on a schedule)."""
    kit.create_retention(outbox=False, inbox=True)


def downgrade() -> None:
    """Drop them."""
    kit.drop_retention()
