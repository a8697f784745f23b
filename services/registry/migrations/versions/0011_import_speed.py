"""Nothing needed for the member import: the province-wide check already reads members_bidx (0002).

Revision ID: 0011
Revises: 0010
"""

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing needed: the check of an import's people against other counties (id_number_bidx = ANY(...) AND
    record_status = 1) is served by the partial index members_bidx of 0002, and the check within the county by the
    unique key (tenant_id, id_number_bidx); another index would only slow every COPY into members."""


def downgrade() -> None:
    """Nothing to undo."""
