"""Per-service Alembic migrations, run as the owner role, and the DDL every service shares."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

if TYPE_CHECKING:
    from jinqiao.kit.lifecycle import RecordKind

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")

TENANT_POLICY = "tenant_id = current_setting('app.tenant', true)"
# An empty scope must match nothing: starts_with(x, '') would be true for every row.
SCOPE_POLICY = (
    f"{TENANT_POLICY} OR (coalesce(current_setting('app.scope', true), '') <> ''"
    " AND starts_with(tenant_id, current_setting('app.scope', true)))"
)


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


def migrations_dir(service: str) -> Path:
    """The folder of a service's Alembic scripts (``jinqiao.<service>.migrations``)."""
    module = importlib.import_module(f"jinqiao.{service}.migrations")
    return Path(module.__path__[0])


def _config(service: str) -> Config:
    cfg = Config()
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("script_location", str(migrations_dir(service)))
    cfg.set_main_option("version_locations", str(migrations_dir(service) / "versions"))
    return cfg


async def migrate(*, service: str, admin_dsn: str, owner_role: str, revision: str = "head") -> None:
    """Upgrade a service's database, creating objects as its owner role so the app role owns nothing."""
    url = admin_dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    engine = create_async_engine(url, poolclass=pool.NullPool)
    cfg = _config(service)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"SET ROLE {_ident(owner_role)}"))

            def upgrade(sync_conn: Connection) -> None:
                cfg.attributes["connection"] = sync_conn
                command.upgrade(cfg, revision)

            await conn.run_sync(upgrade)
    finally:
        await engine.dispose()


def run_env() -> None:
    """The body of every service's ``env.py``: run online on the connection ``migrate`` passes."""
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=False)
    with context.begin_transaction():
        context.run_migrations()


def enable_tenant_rls(table: str) -> None:
    """ENABLE and FORCE row-level security keyed on ``app.tenant``."""
    _enable_rls(table, using=TENANT_POLICY, check=TENANT_POLICY)


def enable_scope_rls(table: str) -> None:
    """RLS for aggregate tables: writes per tenant, reads by tenant or by a code-prefix scope."""
    _enable_rls(table, using=SCOPE_POLICY, check=TENANT_POLICY)


def _enable_rls(table: str, *, using: str, check: str) -> None:
    t = _ident(table)
    op.execute(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY {t}_tenant_isolation ON {t} USING ({using}) WITH CHECK ({check})")


def create_outbox() -> None:
    """The outbox, and the two narrow functions through which the relay crosses tenants."""
    op.execute(
        """
        CREATE TABLE outbox (
            tenant_id text NOT NULL,
            id bigint GENERATED ALWAYS AS IDENTITY,
            event_id uuid NOT NULL,
            subject text NOT NULL,
            event_type text NOT NULL,
            event_version integer NOT NULL,
            payload bytea NOT NULL,
            traceparent text,
            created_at timestamptz NOT NULL DEFAULT now(),
            sent_at timestamptz,
            PRIMARY KEY (tenant_id, id),
            UNIQUE (tenant_id, event_id)
        )
        """
    )
    op.execute("CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL")
    enable_tenant_rls("outbox")
    # The relay publishes every county's events; these SECURITY DEFINER functions (owned by the
    # BYPASSRLS owner role) are the only way the app role sees rows of more than one tenant.
    op.execute(
        """
        CREATE FUNCTION outbox_pending_all_tenants(batch integer)
        RETURNS TABLE (id bigint, tenant_id text, event_id uuid, subject text, event_type text,
                       event_version integer, payload bytea, traceparent text)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
            SELECT id, tenant_id, event_id, subject, event_type, event_version, payload, traceparent
            FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT batch
        $$
        """
    )


def fair_outbox_pending() -> None:
    """Pick unsent rows county by county in turn (id order within each county).

    In plain id order one county's bulk import (thousands of rows) holds back every other county's events until
    it is relayed; taking each county's oldest rows first keeps everyone else's latency at one batch.
    """
    op.execute(
        """
        CREATE OR REPLACE FUNCTION outbox_pending_all_tenants(batch integer)
        RETURNS TABLE (id bigint, tenant_id text, event_id uuid, subject text, event_type text,
                       event_version integer, payload bytea, traceparent text)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
            SELECT id, tenant_id, event_id, subject, event_type, event_version, payload, traceparent FROM (
                SELECT o.*, row_number() OVER (PARTITION BY o.tenant_id ORDER BY o.id) AS turn
                FROM outbox o WHERE o.sent_at IS NULL
            ) pending ORDER BY turn, id LIMIT batch
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION outbox_mark_sent_all_tenants(ids bigint[])
        RETURNS integer LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
            WITH done AS (UPDATE outbox SET sent_at = now() WHERE id = ANY(ids) AND sent_at IS NULL RETURNING 1)
            SELECT count(*)::integer FROM done
        $$
        """
    )


def create_inbox() -> None:
    """The inbox of processed events (consumer, event id) that makes consumers idempotent."""
    op.execute(
        """
        CREATE TABLE inbox (
            tenant_id text NOT NULL,
            consumer text NOT NULL,
            event_id uuid NOT NULL,
            processed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, consumer, event_id)
        )
        """
    )
    enable_tenant_rls("inbox")


def create_dead_letters() -> None:
    """Messages a consumer gave up on after the maximum number of deliveries."""
    op.execute(
        """
        CREATE TABLE dead_letters (
            tenant_id text NOT NULL,
            id bigint GENERATED ALWAYS AS IDENTITY,
            consumer text NOT NULL,
            subject text NOT NULL,
            event_id text,
            event_type text,
            headers jsonb NOT NULL,
            payload bytea NOT NULL,
            error text NOT NULL,
            deliveries integer NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id)
        )
        """
    )
    enable_tenant_rls("dead_letters")


def create_audit_log() -> None:
    """The append-only, per-tenant hash-chained audit log; triggers refuse UPDATE, DELETE, TRUNCATE."""
    op.execute(
        """
        CREATE TABLE audit_log (
            tenant_id text NOT NULL,
            seq bigint NOT NULL,
            at timestamptz NOT NULL DEFAULT now(),
            actor text NOT NULL,
            role text NOT NULL,
            action text NOT NULL,
            object_type text NOT NULL,
            object_id text NOT NULL,
            reason text,
            trace_id text,
            prev_hash bytea NOT NULL,
            hash bytea NOT NULL,
            PRIMARY KEY (tenant_id, seq)
        )
        """
    )
    enable_tenant_rls("audit_log")
    op.execute(
        """
        CREATE FUNCTION audit_chain_head(p_tenant text) RETURNS TABLE (seq bigint, hash bytea)
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock(hashtextextended('audit:' || p_tenant, 0));
            RETURN QUERY SELECT a.seq, a.hash FROM audit_log a WHERE a.tenant_id = p_tenant
                ORDER BY a.seq DESC LIMIT 1;
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log"
        " FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log"
        " FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
    )


def drop_outbox() -> None:
    """Undo ``create_outbox``."""
    op.execute("DROP FUNCTION IF EXISTS outbox_pending_all_tenants(integer)")
    op.execute("DROP FUNCTION IF EXISTS outbox_mark_sent_all_tenants(bigint[])")
    op.execute("DROP TABLE IF EXISTS outbox")


def drop_inbox() -> None:
    """Undo ``create_inbox``."""
    op.execute("DROP TABLE IF EXISTS inbox")


def drop_dead_letters() -> None:
    """Undo ``create_dead_letters``."""
    op.execute("DROP TABLE IF EXISTS dead_letters")


def drop_audit_log() -> None:
    """Undo ``create_audit_log``."""
    op.execute("DROP TABLE IF EXISTS audit_log")
    op.execute("DROP FUNCTION IF EXISTS audit_chain_head(text)")
    op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")


def add_dead_letter_replay() -> None:
    """Replay state on ``dead_letters`` (who replayed it, when, how often, the last replay's error) and the
    newest-first index the listing pages through."""
    op.execute(
        """
        ALTER TABLE dead_letters
            ADD COLUMN replayed_at timestamptz,
            ADD COLUMN replayed_by text,
            ADD COLUMN replays integer NOT NULL DEFAULT 0,
            ADD COLUMN last_replay_at timestamptz,
            ADD COLUMN last_replay_error text
        """
    )
    op.execute("CREATE INDEX dead_letters_newest ON dead_letters (tenant_id, created_at DESC, id DESC)")


def drop_dead_letter_replay() -> None:
    """Undo ``add_dead_letter_replay``."""
    op.execute("DROP INDEX IF EXISTS dead_letters_newest")
    op.execute(
        "ALTER TABLE dead_letters DROP COLUMN IF EXISTS replayed_at, DROP COLUMN IF EXISTS replayed_by,"
        " DROP COLUMN IF EXISTS replays, DROP COLUMN IF EXISTS last_replay_at,"
        " DROP COLUMN IF EXISTS last_replay_error"
    )


def create_retention(*, outbox: bool, inbox: bool) -> None:
    """The pruning functions (kit/retention.py) for the tables a service has, and the indexes they walk.

    Each deletes at most ``batch`` rows per call, oldest first (by their row addresses: no join over the table),
    skipping rows another transaction holds; pending outbox rows (``sent_at IS NULL``) are never touched, and dead
    letters are not pruned at all.
    """
    if outbox:
        op.execute("CREATE INDEX IF NOT EXISTS outbox_sent_at ON outbox (sent_at) WHERE sent_at IS NOT NULL")
        # Pruning crosses counties: one pass for the whole database, by age only, touching sent rows only.
        op.execute(
            """
            CREATE FUNCTION outbox_prune_sent_all_tenants(older_than interval, batch integer)
            RETURNS integer LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
                WITH gone AS (
                    DELETE FROM outbox WHERE ctid = ANY(ARRAY(
                        SELECT ctid FROM outbox WHERE sent_at IS NOT NULL AND sent_at < now() - older_than
                        ORDER BY sent_at LIMIT batch FOR UPDATE SKIP LOCKED))
                    RETURNING 1
                )
                SELECT count(*)::integer FROM gone
            $$
            """
        )
    if inbox:
        op.execute("CREATE INDEX IF NOT EXISTS inbox_processed_at ON inbox (processed_at)")
        # older_than is the inbox horizon (stream max_age + margin): no copy of a pruned row's message is left.
        op.execute(
            """
            CREATE FUNCTION inbox_prune_all_tenants(older_than interval, batch integer)
            RETURNS integer LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
                WITH gone AS (
                    DELETE FROM inbox WHERE ctid = ANY(ARRAY(
                        SELECT ctid FROM inbox WHERE processed_at < now() - older_than
                        ORDER BY processed_at LIMIT batch FOR UPDATE SKIP LOCKED))
                    RETURNING 1
                )
                SELECT count(*)::integer FROM gone
            $$
            """
        )


def drop_retention() -> None:
    """Undo ``create_retention``."""
    op.execute("DROP FUNCTION IF EXISTS outbox_prune_sent_all_tenants(interval, integer)")
    op.execute("DROP FUNCTION IF EXISTS inbox_prune_all_tenants(interval, integer)")
    op.execute("DROP INDEX IF EXISTS outbox_sent_at")
    op.execute("DROP INDEX IF EXISTS inbox_processed_at")



def bounded_fair_outbox_pending() -> None:
    """The fair pick of ``fair_outbox_pending`` without reading the whole backlog on every pass.

    The same rows in the same order (counties in turn, id order within each), but each pending county contributes
    at most ``batch`` rows, found through a (tenant_id, id) index of unsent rows: a pass costs the number of
    pending counties times at most ``batch``, not the size of a 1,000,000-row import's backlog.
    """
    op.execute("CREATE INDEX outbox_unsent_tenant ON outbox (tenant_id, id) WHERE sent_at IS NULL")
    op.execute(
        """
        CREATE OR REPLACE FUNCTION outbox_pending_all_tenants(batch integer)
        RETURNS TABLE (id bigint, tenant_id text, event_id uuid, subject text, event_type text,
                       event_version integer, payload bytea, traceparent text)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
            WITH RECURSIVE counties(tenant_id) AS (
                -- A skip scan: each step jumps to the next county that has unsent rows.
                (SELECT o.tenant_id FROM outbox o WHERE o.sent_at IS NULL ORDER BY o.tenant_id LIMIT 1)
                UNION ALL
                SELECT (SELECT o.tenant_id FROM outbox o WHERE o.sent_at IS NULL AND o.tenant_id > c.tenant_id
                        ORDER BY o.tenant_id LIMIT 1)
                FROM counties c WHERE c.tenant_id IS NOT NULL
            )
            SELECT id, tenant_id, event_id, subject, event_type, event_version, payload, traceparent FROM (
                SELECT p.*, row_number() OVER (PARTITION BY p.tenant_id ORDER BY p.id) AS turn
                FROM counties c CROSS JOIN LATERAL (
                    SELECT o.id, o.tenant_id, o.event_id, o.subject, o.event_type, o.event_version, o.payload,
                           o.traceparent
                    FROM outbox o WHERE o.tenant_id = c.tenant_id AND o.sent_at IS NULL ORDER BY o.id LIMIT batch
                ) p
            ) pending ORDER BY turn, id LIMIT batch
        $$
        """
    )


def drop_bounded_fair_outbox_pending() -> None:
    """Undo ``bounded_fair_outbox_pending``: back to ``fair_outbox_pending``'s pick over the whole backlog."""
    op.execute(
        """
        CREATE OR REPLACE FUNCTION outbox_pending_all_tenants(batch integer)
        RETURNS TABLE (id bigint, tenant_id text, event_id uuid, subject text, event_type text,
                       event_version integer, payload bytea, traceparent text)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
            SELECT id, tenant_id, event_id, subject, event_type, event_version, payload, traceparent FROM (
                SELECT o.*, row_number() OVER (PARTITION BY o.tenant_id ORDER BY o.id) AS turn
                FROM outbox o WHERE o.sent_at IS NULL
            ) pending ORDER BY turn, id LIMIT batch
        $$
        """
    )
    op.execute("DROP INDEX IF EXISTS outbox_unsent_tenant")


def create_audit_anchors() -> None:
    """``audit_anchors`` and the audit-row pruning function (kit/lifecycle.py): the chain stays verifiable.

    Before a county's audit rows up to seq N are deleted, an anchor (tenant, N, hash of row N, when) is written;
    ``audit.verify_chain`` starts from the latest anchor instead of GENESIS. DELETE on ``audit_log`` is allowed only
    for rows an anchor covers, and only the owner role (through the SECURITY DEFINER function) writes anchors: the
    app role may read them, never write them. UPDATE and TRUNCATE stay refused; anchors are append-only too.
    """
    op.execute(
        """
        CREATE TABLE audit_anchors (
            tenant_id text NOT NULL,
            seq bigint NOT NULL,
            hash bytea NOT NULL,
            pruned_at timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, seq)
        )
        """
    )
    enable_tenant_rls("audit_anchors")
    # The default privileges gave the app role DML on the new table: an anchor it could write would license deletes.
    op.execute(
        """
        DO $$ DECLARE r text; BEGIN
            FOR r IN SELECT DISTINCT grantee FROM information_schema.role_table_grants
                     WHERE table_schema = 'public' AND table_name = 'audit_anchors' AND grantee <> current_user LOOP
                EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_anchors FROM %I', r);
            END LOOP;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_anchors_no_update BEFORE UPDATE OR DELETE ON audit_anchors"
        " FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
    )
    op.execute(
        """
        CREATE FUNCTION audit_log_prune_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM audit_anchors an WHERE an.tenant_id = OLD.tenant_id AND an.seq >= OLD.seq)
            THEN RAISE EXCEPTION 'audit_log is append-only';
            END IF;
            RETURN OLD;
        END $$
        """
    )
    op.execute("DROP TRIGGER audit_log_no_update ON audit_log")
    op.execute(
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
        " FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_prune_only BEFORE DELETE ON audit_log"
        " FOR EACH ROW EXECUTE FUNCTION audit_log_prune_guard()"
    )
    op.execute("CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at)")
    # Per county: the old prefix of the chain (rows before the first one at/after the cutoff), at most ``batch``
    # rows, never the head (the next append chains on it), anchored at its last row, then deleted.
    op.execute(
        """
        CREATE FUNCTION lifecycle_audit_rows_all_tenants(cutoff timestamptz, batch integer, pruned_at timestamptz)
        RETURNS TABLE (tenant_id text, deleted integer)
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
        #variable_conflict use_column
        DECLARE
            t text; first_seq bigint; head_seq bigint; young_seq bigint; upto bigint; n integer;
        BEGIN
            FOR t IN SELECT DISTINCT a.tenant_id FROM audit_log a WHERE a.at < cutoff ORDER BY 1 LOOP
                SELECT min(a.seq), max(a.seq) INTO first_seq, head_seq FROM audit_log a WHERE a.tenant_id = t;
                SELECT min(a.seq) INTO young_seq FROM audit_log a WHERE a.tenant_id = t AND a.at >= cutoff;
                upto := least(coalesce(young_seq, head_seq + 1) - 1, head_seq - 1, first_seq + batch - 1);
                CONTINUE WHEN upto < first_seq;
                INSERT INTO audit_anchors (tenant_id, seq, hash, pruned_at)
                    SELECT a.tenant_id, a.seq, a.hash, pruned_at FROM audit_log a
                    WHERE a.tenant_id = t AND a.seq = upto
                    ON CONFLICT DO NOTHING;
                DELETE FROM audit_log a WHERE a.tenant_id = t AND a.seq <= upto;
                GET DIAGNOSTICS n = ROW_COUNT;
                tenant_id := t;
                deleted := n;
                RETURN NEXT;
            END LOOP;
        END $$
        """
    )


def drop_audit_anchors() -> None:
    """Undo ``create_audit_anchors``: audit_log refuses every DELETE again."""
    op.execute("DROP FUNCTION IF EXISTS lifecycle_audit_rows_all_tenants(timestamptz, integer, timestamptz)")
    op.execute("DROP INDEX IF EXISTS audit_log_at")
    op.execute("DROP TRIGGER IF EXISTS audit_log_prune_only ON audit_log")
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_update ON audit_log")
    op.execute(
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log"
        " FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
    )
    op.execute("DROP FUNCTION IF EXISTS audit_log_prune_guard()")
    op.execute("DROP TABLE IF EXISTS audit_anchors")


def create_lifecycle_functions(*kinds: RecordKind) -> None:
    """One SECURITY DEFINER function per kind of record (kit/lifecycle.py): the only way its job crosses counties.

    ``lifecycle_<kind>_all_tenants(cutoff, batch)`` deletes at most ``batch`` eligible rows whose instant is before
    ``cutoff`` (oldest first, skipping rows another transaction holds), with their children, and returns the rows
    deleted per county.
    """
    for kind in kinds:
        table, fn = _ident(kind.table), _ident(kind.function)
        if kind.index is not None:
            # The index predicate names the table's columns without the function's alias.
            predicate = re.sub(r"\bt\.", "", kind.eligible)
            op.execute(f"CREATE INDEX IF NOT EXISTS {table}_lifecycle ON {table} ({kind.index}) WHERE {predicate}")
        # A date column (closed_on) is before the cutoff when it is before the cutoff's date in China (UTC+8).
        before = (f"{kind.at} < ((cutoff AT TIME ZONE 'UTC') + interval '8 hours')::date" if kind.on_date
                  else f"{kind.at} < cutoff")
        children = "".join(
            f" c{i} AS (DELETE FROM {_ident(child)} c USING doomed d"
            f" WHERE c.tenant_id = d.tenant_id AND c.{_ident(column)} = d.id),"
            for i, (child, column) in enumerate(kind.children)
        )
        op.execute(
            f"""
            CREATE FUNCTION {fn}(cutoff timestamptz, batch integer)
            RETURNS TABLE (tenant_id text, deleted integer)
            LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
                WITH doomed AS MATERIALIZED (
                    SELECT t.tenant_id, t.id FROM {table} t WHERE ({kind.eligible}) AND {before}
                    ORDER BY {kind.at} LIMIT batch FOR UPDATE SKIP LOCKED
                ),{children}
                gone AS (
                    DELETE FROM {table} t USING doomed d WHERE t.tenant_id = d.tenant_id AND t.id = d.id
                    RETURNING t.tenant_id
                )
                SELECT g.tenant_id, count(*)::integer FROM gone g GROUP BY g.tenant_id
            $$
            """
        )


def drop_lifecycle_functions(*kinds: RecordKind) -> None:
    """Undo ``create_lifecycle_functions``."""
    for kind in kinds:
        op.execute(f"DROP FUNCTION IF EXISTS {_ident(kind.function)}(timestamptz, integer)")
        op.execute(f"DROP INDEX IF EXISTS {_ident(kind.table)}_lifecycle")
