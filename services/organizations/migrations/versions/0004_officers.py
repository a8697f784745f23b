"""officers (phone encrypted) and their appointments with history

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
    """A person is recorded once; appointments give the history of who held what, where and when."""
    op.execute(
        """
        CREATE TABLE officers (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            name text NOT NULL,
            phone_enc bytea,
            phone_masked text NOT NULL DEFAULT '',
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE appointments (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            officer_id uuid NOT NULL,
            org_id uuid NOT NULL,
            position smallint NOT NULL,
            start_date date NOT NULL,
            end_date date,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id),
            FOREIGN KEY (tenant_id, officer_id) REFERENCES officers (tenant_id, id),
            FOREIGN KEY (tenant_id, org_id) REFERENCES orgs (tenant_id, id),
            CHECK (end_date IS NULL OR end_date >= start_date)
        )
        """
    )
    # One sitting secretary per organisation; one current appointment per person and position and organisation.
    op.execute("CREATE UNIQUE INDEX appointments_one_secretary ON appointments (tenant_id, org_id)"
               " WHERE end_date IS NULL AND position = 1")
    op.execute("CREATE UNIQUE INDEX appointments_no_repeat ON appointments (tenant_id, org_id, officer_id, position)"
               " WHERE end_date IS NULL")
    op.execute("CREATE INDEX appointments_by_position ON appointments (tenant_id, position, start_date)")
    kit.enable_tenant_rls("officers")
    kit.enable_tenant_rls("appointments")


def downgrade() -> None:
    """Drop officers and appointments."""
    op.execute("DROP TABLE IF EXISTS appointments")
    op.execute("DROP TABLE IF EXISTS officers")
