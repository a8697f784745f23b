"""the 七有 checklist of external branches

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from jinqiao.kit import migrations as kit

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """One row per (branch, item) once someone records it; absent rows mean 'not yet'."""
    op.execute(
        """
        CREATE TABLE checklist_items (
            tenant_id text NOT NULL,
            org_id uuid NOT NULL,
            item smallint NOT NULL,
            done boolean NOT NULL,
            evidence text NOT NULL DEFAULT '',
            updated_by text NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, org_id, item),
            FOREIGN KEY (tenant_id, org_id) REFERENCES orgs (tenant_id, id)
        )
        """
    )
    kit.enable_tenant_rls("checklist_items")


def downgrade() -> None:
    """Drop the checklist."""
    op.execute("DROP TABLE IF EXISTS checklist_items")
