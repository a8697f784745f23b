"""retention: the functions that prune sent outbox rows and old inbox rows across counties (issue 11, finding 6)

Revision ID: 0012
Revises: 0011
"""

from jinqiao.kit import migrations as kit

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the pruning functions and the indexes they walk (kit/retention.py runs them on a schedule)."""
    kit.create_retention(outbox=True, inbox=True)


def downgrade() -> None:
    """Drop them."""
    kit.drop_retention()
