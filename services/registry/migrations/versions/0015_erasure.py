"""erasure (issue 18, h10): how a member's record ended, and the erasure of a departed member's personal fields

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Record the end of a record (when, how, why) and the erasure; an erased member has no ciphertexts left."""
    op.execute(
        """
        ALTER TABLE members
            ADD COLUMN ended_on date,
            ADD COLUMN departure smallint NOT NULL DEFAULT 0,
            ADD COLUMN erased_at timestamptz,
            ALTER COLUMN id_number_enc DROP NOT NULL,
            ALTER COLUMN id_number_bidx DROP NOT NULL
        """
    )
    # A record transferred out before this revision ended on its last change (the best fact there is).
    op.execute("UPDATE members SET ended_on = (updated_at AT TIME ZONE 'Asia/Shanghai')::date"
               " WHERE record_status <> 1 AND ended_on IS NULL")
    # An erased row holds nothing to decrypt or look up; a row still holding numbers holds both.
    op.execute(
        "ALTER TABLE members ADD CONSTRAINT members_erased_or_whole CHECK ((erased_at IS NULL) ="
        " (id_number_enc IS NOT NULL AND id_number_bidx IS NOT NULL))"
    )
    op.execute("CREATE INDEX members_erasure_due ON members (ended_on) WHERE record_status <> 1 AND erased_at IS NULL")
    # The scheduled erasure crosses counties through this alone: the ids whose record ended on or before the day,
    # not yet erased, nothing else (the erasure itself runs per county under RLS).
    op.execute(
        """
        CREATE FUNCTION members_due_for_erasure_all_tenants(p_ended_by date, p_batch integer)
        RETURNS TABLE (tenant_id text, member_id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
            SELECT m.tenant_id, m.id FROM members m
            WHERE m.record_status <> 1 AND m.erased_at IS NULL AND m.ended_on <= p_ended_by
            ORDER BY m.tenant_id, m.ended_on, m.id LIMIT p_batch
        $$
        """
    )


def downgrade() -> None:
    """Drop what upgrade added (an erased row cannot get its numbers back: downgrading refuses while any exists)."""
    op.execute("DROP FUNCTION IF EXISTS members_due_for_erasure_all_tenants(date, integer)")
    op.execute("DROP INDEX IF EXISTS members_erasure_due")
    op.execute("ALTER TABLE members DROP CONSTRAINT IF EXISTS members_erased_or_whole")
    op.execute(
        "ALTER TABLE members ALTER COLUMN id_number_enc SET NOT NULL, ALTER COLUMN id_number_bidx SET NOT NULL,"
        " DROP COLUMN erased_at, DROP COLUMN departure, DROP COLUMN ended_on"
    )
