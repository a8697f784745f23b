"""login sessions with rotating refresh tokens, and the outbox that announces their revocation

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from jinqiao.kit import migrations as kit

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Sessions and refresh tokens keyed like accounts (by the account's scope), the outbox for SessionRevoked."""
    op.execute(
        """
        CREATE TABLE sessions (
            tenant_id text NOT NULL,
            session_id uuid NOT NULL,
            username text NOT NULL,
            created_at timestamptz NOT NULL,
            last_used_at timestamptz NOT NULL,
            expires_at timestamptz NOT NULL,
            revoked_at timestamptz,
            revoked_reason text,
            PRIMARY KEY (tenant_id, session_id),
            FOREIGN KEY (tenant_id, username) REFERENCES accounts (tenant_id, username) ON DELETE CASCADE
        )
        """
    )
    op.execute("CREATE INDEX sessions_live_of_account ON sessions (tenant_id, username) WHERE revoked_at IS NULL")
    kit.enable_tenant_rls("sessions")
    # Only a SHA-256 of each refresh token is kept; a rotated row stays (rotated_at set) so its reuse is noticed.
    # tenant_id leads every key (Citus-ready); a hash of 256 random bits needs no unique constraint of its own.
    op.execute(
        """
        CREATE TABLE refresh_tokens (
            tenant_id text NOT NULL,
            token_hash bytea NOT NULL,
            session_id uuid NOT NULL,
            issued_at timestamptz NOT NULL,
            rotated_at timestamptz,
            PRIMARY KEY (tenant_id, token_hash),
            FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, session_id) ON DELETE CASCADE
        )
        """
    )
    op.execute("CREATE INDEX refresh_tokens_of_session ON refresh_tokens (tenant_id, session_id)")
    op.execute("CREATE INDEX refresh_tokens_by_hash ON refresh_tokens (token_hash)")
    kit.enable_tenant_rls("refresh_tokens")
    # A refresh request names no tenant: like login, one row by an unguessable key is the only cross-tenant read.
    op.execute(
        """
        CREATE FUNCTION refresh_token_owner_all_tenants(p_hash bytea)
        RETURNS TABLE (tenant_id text, session_id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
            SELECT tenant_id, session_id FROM refresh_tokens WHERE token_hash = p_hash LIMIT 1
        $$
        """
    )
    kit.create_outbox()
    kit.fair_outbox_pending()


def downgrade() -> None:
    """Drop everything this revision created."""
    kit.drop_outbox()
    op.execute("DROP FUNCTION IF EXISTS refresh_token_owner_all_tenants(bytea)")
    op.execute("DROP TABLE IF EXISTS refresh_tokens")
    op.execute("DROP TABLE IF EXISTS sessions")
