"""idempotency keys: the first answer to each (county, caller, Idempotency-Key), kept 24 hours for replay

Revision ID: 0007
Revises: 0006
"""

from alembic import op

from jinqiao.kit import migrations as kit

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The key table (gateway/idempotency.py), keyed by the caller's county first, and its cross-county pruning."""
    # status NULL: the first request is still being answered (claim names it; locked_until bounds its lease).
    # tenant_id is the caller's county, or its scope code when it acts on none.
    op.execute(
        """
        CREATE TABLE idempotency_keys (
            tenant_id text NOT NULL,
            subject text NOT NULL,
            idempotency_key text NOT NULL,
            method text NOT NULL,
            path text NOT NULL,
            request_hash bytea NOT NULL,
            claim uuid NOT NULL,
            locked_until timestamptz,
            status smallint,
            response_headers jsonb NOT NULL DEFAULT '{}',
            response_body bytea,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, subject, idempotency_key),
            CONSTRAINT idempotency_keys_key_length CHECK (length(idempotency_key) BETWEEN 1 AND 100)
        )
        """
    )
    op.execute("CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at)")
    kit.enable_tenant_rls("idempotency_keys")
    # Expired rows of every county go in batches; the only cross-tenant statement on the table, deleting only.
    op.execute(
        """
        CREATE FUNCTION prune_idempotency_keys_all_tenants(p_ttl_seconds integer, p_limit integer)
        RETURNS integer
        LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public AS $$
            WITH gone AS (
                DELETE FROM idempotency_keys WHERE ctid IN (
                    SELECT ctid FROM idempotency_keys
                    WHERE created_at < now() - make_interval(secs => p_ttl_seconds)
                    ORDER BY created_at LIMIT p_limit
                )
                RETURNING 1
            )
            SELECT count(*)::integer FROM gone
        $$
        """
    )


def downgrade() -> None:
    """Drop everything this revision created."""
    op.execute("DROP FUNCTION IF EXISTS prune_idempotency_keys_all_tenants(integer, integer)")
    op.execute("DROP TABLE IF EXISTS idempotency_keys")
