"""members, with the kit's outbox, inbox, dead letters and audit log

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
    """Create the registry's tables, all under RLS."""
    op.execute(
        """
        CREATE TABLE members (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            name text NOT NULL,
            gender smallint NOT NULL,
            birth_date date NOT NULL,
            id_number_enc bytea NOT NULL,
            id_number_bidx bytea NOT NULL,
            id_number_masked text NOT NULL,
            phone_enc bytea,
            phone_masked text NOT NULL DEFAULT '',
            membership_status smallint NOT NULL,
            township text NOT NULL DEFAULT '',
            village text NOT NULL DEFAULT '',
            occupation text NOT NULL DEFAULT '',
            join_date date,
            request_id text,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            version bigint NOT NULL DEFAULT 1,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT members_id_number_unique UNIQUE (tenant_id, id_number_bidx),
            CONSTRAINT members_request_unique UNIQUE (tenant_id, request_id)
        )
        """
    )
    op.execute("CREATE INDEX members_newest ON members (tenant_id, created_at DESC, id DESC)")
    kit.enable_tenant_rls("members")
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
    op.execute("DROP TABLE IF EXISTS members")
