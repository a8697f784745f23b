"""the relay's fair pick reads at most a batch per county, not the whole backlog, on every pass

The wake-up across processes needs no schema: a relay standing by NOTIFYs the relay holding the lock after its
process's commits (kit/outbox.py). A NOTIFY trigger on the outbox was measured and left out: PostgreSQL serialises
the commits of notifying transactions, fsync included, and concurrent commits fell by half.

Revision ID: 0012
Revises: 0011
"""

from jinqiao.kit import migrations as kit

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The relay's pick read through an index of unsent rows by county."""
    kit.bounded_fair_outbox_pending()


def downgrade() -> None:
    """The relay's pick reads the whole backlog again."""
    kit.drop_bounded_fair_outbox_pending()
