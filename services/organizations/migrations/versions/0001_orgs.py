"""the organisation tree (ltree paths), with the kit's outbox, inbox, dead letters and audit log

Revision ID: 0001
Revises:
"""

from alembic import op

from jinqiao.kit import migrations as kit

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tree; paths are ltree so a subtree is one indexed ``<@`` away."""
    op.execute("CREATE EXTENSION IF NOT EXISTS ltree")
    op.execute(
        """
        CREATE TABLE orgs (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            parent_id uuid,
            path ltree NOT NULL,
            -- The path as C-collated text: labels have a fixed length, so a subtree is one contiguous
            -- range [root, root || '/') in tree order, served by a btree in both filter and ORDER BY.
            path_key text COLLATE "C" GENERATED ALWAYS AS (path::text) STORED,
            name text NOT NULL,
            kind smallint NOT NULL,
            city_code text NOT NULL DEFAULT '',
            founding_mode smallint,
            industry text NOT NULL DEFAULT '',
            status smallint NOT NULL DEFAULT 1,
            member_count integer NOT NULL DEFAULT 0,
            dissolve_reason text,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            version bigint NOT NULL DEFAULT 1,
            PRIMARY KEY (tenant_id, id),
            FOREIGN KEY (tenant_id, parent_id) REFERENCES orgs (tenant_id, id)
        )
        """
    )
    op.execute("CREATE UNIQUE INDEX orgs_one_root ON orgs (tenant_id) WHERE parent_id IS NULL")
    op.execute("CREATE UNIQUE INDEX orgs_sibling_name ON orgs (tenant_id, parent_id, name) WHERE status = 1")
    op.execute("CREATE INDEX orgs_path ON orgs USING gist (path)")
    op.execute("CREATE INDEX orgs_path_key ON orgs (tenant_id, path_key)")
    op.execute("CREATE INDEX orgs_children ON orgs (tenant_id, parent_id, name, id)")
    kit.enable_tenant_rls("orgs")
    kit.create_outbox()
    kit.create_inbox()
    kit.create_dead_letters()
    kit.create_audit_log()


def downgrade() -> None:
    """Drop everything this revision created."""
    kit.drop_audit_log()
    kit.drop_dead_letters()
    kit.drop_inbox()
    kit.drop_outbox()
    op.execute("DROP TABLE IF EXISTS orgs")
