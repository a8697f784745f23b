"""applicants name their home organisation, and the org replica knows each organisation's parent

Applicants recorded before this revision keep ``home_org_id`` NULL: their ``township`` is free text that names no
organisation, so only the county department (county-wide reach) sees them until it names one. The replica's
parents are filled by new durable consumers of OrgCreated and OrgMoved, which start at the beginning of the
organizations stream and so replay the county's whole tree; ``parent_version`` keeps a replayed OrgCreated from
undoing a later move.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the applicant's home organisation and the replica's parent chain."""
    op.execute("ALTER TABLE applicants ADD COLUMN home_org_id uuid")
    op.execute("CREATE INDEX applicants_home_org ON applicants (tenant_id, home_org_id, created_at DESC, id DESC)")
    op.execute("ALTER TABLE org_replica ADD COLUMN parent_id uuid")
    op.execute("ALTER TABLE org_replica ADD COLUMN parent_version bigint NOT NULL DEFAULT 0")
    op.execute("CREATE INDEX org_replica_children ON org_replica (tenant_id, parent_id)")


def downgrade() -> None:
    """Drop them again."""
    op.execute("DROP INDEX org_replica_children")
    op.execute("ALTER TABLE org_replica DROP COLUMN parent_version")
    op.execute("ALTER TABLE org_replica DROP COLUMN parent_id")
    op.execute("DROP INDEX applicants_home_org")
    op.execute("ALTER TABLE applicants DROP COLUMN home_org_id")
