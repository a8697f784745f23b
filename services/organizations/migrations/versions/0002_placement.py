"""placement: employer and coverage on organisations, per-county placement rule order

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from jinqiao.kit import migrations as kit

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add what placement matches on, and the rules as data."""
    op.execute("ALTER TABLE orgs ADD COLUMN employer text NOT NULL DEFAULT ''")
    op.execute("ALTER TABLE orgs ADD COLUMN coverage text[] NOT NULL DEFAULT '{}'")
    op.execute(
        """
        CREATE TABLE placement_rules (
            tenant_id text NOT NULL,
            scope smallint NOT NULL,
            position smallint NOT NULL,
            rule smallint NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, scope, position),
            UNIQUE (tenant_id, scope, rule)
        )
        """
    )
    kit.enable_tenant_rls("placement_rules")


def downgrade() -> None:
    """Drop what this revision added."""
    op.execute("DROP TABLE IF EXISTS placement_rules")
    op.execute("ALTER TABLE orgs DROP COLUMN IF EXISTS coverage")
    op.execute("ALTER TABLE orgs DROP COLUMN IF EXISTS employer")
