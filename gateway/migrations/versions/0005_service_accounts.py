"""service accounts of county systems: client credentials exchanged for short-lived gRPC tokens

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from jinqiao.kit import migrations as kit

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Service accounts keyed by their county; the client id names the county, so no cross-tenant read is needed."""
    # Only argon2 hashes of secrets are kept. After a rotation the previous hash is still accepted until
    # previous_secret_expires_at (the grace period), so the county system can switch without an outage.
    op.execute(
        """
        CREATE TABLE service_accounts (
            tenant_id text NOT NULL,
            client_id text NOT NULL,
            name text NOT NULL,
            permissions text[] NOT NULL,
            secret_hash text NOT NULL,
            previous_secret_hash text,
            previous_secret_expires_at timestamptz,
            created_by text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            rotated_at timestamptz,
            disabled_at timestamptz,
            last_token_at timestamptz,
            PRIMARY KEY (tenant_id, client_id),
            CONSTRAINT service_accounts_client_in_tenant CHECK (starts_with(client_id, 'jq-' || tenant_id || '-')),
            CONSTRAINT service_accounts_previous_pair CHECK (
                (previous_secret_hash IS NULL) = (previous_secret_expires_at IS NULL))
        )
        """
    )
    kit.enable_tenant_rls("service_accounts")


def downgrade() -> None:
    """Drop the table."""
    op.execute("DROP TABLE IF EXISTS service_accounts")
