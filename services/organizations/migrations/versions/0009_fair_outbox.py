"""the outbox relay takes counties in turn, so one county's bulk import does not hold back the others

Revision ID: 0009
Revises: 0008
"""

from jinqiao.kit import migrations as kit

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Replace the relay's pick with the fair one."""
    kit.fair_outbox_pending()


def downgrade() -> None:
    """The fair pick is a strict improvement; nothing to undo."""
