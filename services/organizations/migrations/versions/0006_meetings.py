"""三会一课 and 主题党日 meetings with attendance (guests included)

Revision ID: 0006
Revises: 0005
"""

from alembic import op

from jinqiao.kit import migrations as kit

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Meetings of an organisation and who attended, by member id and home county."""
    op.execute(
        """
        CREATE TABLE meetings (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            org_id uuid NOT NULL,
            type smallint NOT NULL,
            title text NOT NULL,
            starts_at timestamptz NOT NULL,
            place text NOT NULL DEFAULT '',
            online_link text NOT NULL DEFAULT '',
            agenda text NOT NULL DEFAULT '',
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id),
            FOREIGN KEY (tenant_id, org_id) REFERENCES orgs (tenant_id, id)
        )
        """
    )
    op.execute("CREATE INDEX meetings_by_org ON meetings (tenant_id, org_id, starts_at DESC)")
    op.execute(
        """
        CREATE TABLE attendance (
            tenant_id text NOT NULL,
            meeting_id uuid NOT NULL,
            member_id uuid NOT NULL,
            home_tenant_id text NOT NULL,
            status smallint NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, meeting_id, member_id),
            FOREIGN KEY (tenant_id, meeting_id) REFERENCES meetings (tenant_id, id)
        )
        """
    )
    op.execute("CREATE INDEX attendance_by_member ON attendance (tenant_id, member_id)")
    kit.enable_tenant_rls("meetings")
    kit.enable_tenant_rls("attendance")


def downgrade() -> None:
    """Drop meetings and attendance."""
    op.execute("DROP TABLE IF EXISTS attendance")
    op.execute("DROP TABLE IF EXISTS meetings")
