"""the service desk: replica, calendar, categories, tickets, SLA marks, duty, attachments, referrals (issue 13)

One revision holds the whole desk's schema, so every concept builds on the same tables. Every table has
``tenant_id`` first in its keys and row-level security forced; the province's calendar rows are keyed by the
province's code ('41'), a county's overrides by the county's.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from jinqiao.kit import migrations as kit

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TABLES = [
    "desk_orgs", "desk_members", "desk_member_flows", "desk_guests", "work_calendar_years", "work_calendar_days",
    "ticket_categories", "ticket_counters", "tickets", "ticket_history", "ticket_sla_marks", "desk_duty",
    "ticket_attachments", "ticket_referrals",
]


def upgrade() -> None:
    """Create the desk's tables under forced RLS, its outbox, and the functions its sweeps cross counties with."""
    kit.create_outbox()
    kit.fair_outbox_pending()
    # 0003 made the inbox's pruning function only; the outbox's comes now that the desk publishes.
    kit.create_retention(outbox=True, inbox=False)
    # ---- replica (registry's and organizations' events; never their databases)
    op.execute(
        """
        CREATE TABLE desk_orgs (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            parent_id uuid,
            parent_version bigint NOT NULL DEFAULT 0,
            name text NOT NULL DEFAULT '',
            kind text NOT NULL DEFAULT '',
            dissolved boolean NOT NULL DEFAULT false,
            PRIMARY KEY (tenant_id, id)
        )
        """
    )
    # A member of this county (their home county), and their open flow if they are away.
    op.execute(
        """
        CREATE TABLE desk_members (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            name text NOT NULL DEFAULT '',
            home_org_id uuid,
            township text NOT NULL DEFAULT '',
            active boolean NOT NULL DEFAULT true,
            flow_id uuid,
            destination_code text NOT NULL DEFAULT '',
            placing_tenant_id text NOT NULL DEFAULT '',
            placed_org_id uuid,
            placed_org_name text NOT NULL DEFAULT '',
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id)
        )
        """
    )
    # Every flow of a member of this county: the member's flow and placement columns above are recomputed from it,
    # so events arriving out of order across consumers still leave them right. attempt 0: a stub (the placing
    # county's answer arrived before the flow itself). placed_*: the placing county's latest answer (offered or
    # checked in), valid only while placed_by and placed_attempt match the flow.
    op.execute(
        """
        CREATE TABLE desk_member_flows (
            tenant_id text NOT NULL,
            member_id uuid NOT NULL,
            flow_id uuid NOT NULL,
            attempt integer NOT NULL DEFAULT 0,
            destination_code text NOT NULL DEFAULT '',
            placing_tenant_id text NOT NULL DEFAULT '',
            opened_at timestamptz,
            closed boolean NOT NULL DEFAULT false,
            placed_by text NOT NULL DEFAULT '',
            placed_attempt integer NOT NULL DEFAULT 0,
            placed_rank smallint NOT NULL DEFAULT 0,
            placed_org_id uuid,
            placed_org_name text NOT NULL DEFAULT '',
            PRIMARY KEY (tenant_id, member_id, flow_id)
        )
        """
    )
    # A member of another county placed in this one (临时组织关系), by flow.
    op.execute(
        """
        CREATE TABLE desk_guests (
            tenant_id text NOT NULL,
            flow_id uuid NOT NULL,
            origin_tenant_id text NOT NULL,
            member_id uuid NOT NULL,
            member_name text NOT NULL DEFAULT '',
            id_number_masked text NOT NULL DEFAULT '',
            attempt integer NOT NULL DEFAULT 1,
            org_id uuid,
            org_name text NOT NULL DEFAULT '',
            status text NOT NULL DEFAULT 'REGISTERED',
            -- once its flow is closed, no later event reopens the guest
            flow_closed boolean NOT NULL DEFAULT false,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, flow_id)
        )
        """
    )
    op.execute("CREATE INDEX desk_guests_member ON desk_guests (tenant_id, origin_tenant_id, member_id)")
    # ---- working-day calendar: a year's notice and its days (holidays on weekdays, working weekend days)
    op.execute(
        """
        CREATE TABLE work_calendar_years (
            tenant_id text NOT NULL,
            year integer NOT NULL,
            notice text NOT NULL DEFAULT '',
            entered_by text NOT NULL DEFAULT '',
            entered_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, year)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE work_calendar_days (
            tenant_id text NOT NULL,
            day date NOT NULL,
            working boolean NOT NULL,
            name text NOT NULL DEFAULT '',
            PRIMARY KEY (tenant_id, day)
        )
        """
    )
    # ---- categories (data per county; the defaults are written on a county's first use)
    op.execute(
        """
        CREATE TABLE ticket_categories (
            tenant_id text NOT NULL,
            code text NOT NULL,
            name text NOT NULL,
            grp text NOT NULL,
            fields jsonb NOT NULL DEFAULT '[]',
            default_queue text NOT NULL DEFAULT 'STATION',
            priority smallint NOT NULL DEFAULT 2,
            sla jsonb NOT NULL DEFAULT '{}',
            enabled boolean NOT NULL DEFAULT true,
            reopen_days integer NOT NULL DEFAULT 15,
            position integer NOT NULL DEFAULT 0,
            version integer NOT NULL DEFAULT 1,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, code)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE ticket_counters (
            tenant_id text NOT NULL,
            day date NOT NULL,
            last integer NOT NULL DEFAULT 0,
            PRIMARY KEY (tenant_id, day)
        )
        """
    )
    # ---- tickets. The SLA columns: each clock's due time and when its act happened; paused_at while 待补充材料;
    # next_sla_check is the earliest instant the sweep must look at the ticket again (NULL: nothing pending).
    op.execute(
        """
        CREATE TABLE tickets (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            number text NOT NULL,
            category text NOT NULL,
            category_name text NOT NULL DEFAULT '',
            category_group text NOT NULL DEFAULT '',
            status smallint NOT NULL,
            priority smallint NOT NULL,
            channel smallint NOT NULL,
            member_home_tenant_id text NOT NULL,
            member_id uuid NOT NULL,
            member_name text NOT NULL DEFAULT '',
            serving_org_id uuid,
            title text NOT NULL,
            description text NOT NULL DEFAULT '',
            form jsonb NOT NULL DEFAULT '{}',
            assignee text NOT NULL DEFAULT '',
            assignee_name text NOT NULL DEFAULT '',
            filed_by text NOT NULL,
            request_id text,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            accepted_at timestamptz,
            resolved_at timestamptz,
            closed_at timestamptz,
            resolution text NOT NULL DEFAULT '',
            close_reason text NOT NULL DEFAULT '',
            rating smallint,
            rating_comment text NOT NULL DEFAULT '',
            rated_at timestamptz,
            reopen_until timestamptz,
            reopened_count integer NOT NULL DEFAULT 0,
            sla_policy jsonb NOT NULL DEFAULT '{}',
            first_response_due timestamptz,
            first_response_at timestamptz,
            assignment_due timestamptz,
            assigned_at timestamptz,
            update_due timestamptz,
            last_update_at timestamptz,
            resolution_due timestamptz,
            paused_at timestamptz,
            paused_minutes integer NOT NULL DEFAULT 0,
            next_sla_check timestamptz,
            escalated boolean NOT NULL DEFAULT false,
            escalated_to_org_id uuid,
            incoming_referral_id uuid,
            referred_from_tenant_id text NOT NULL DEFAULT '',
            outgoing_referral_id uuid,
            outgoing_referral_status text NOT NULL DEFAULT '',
            version integer NOT NULL DEFAULT 1,
            PRIMARY KEY (tenant_id, id),
            UNIQUE (tenant_id, number),
            UNIQUE (tenant_id, request_id)
        )
        """
    )
    op.execute("CREATE INDEX tickets_recent ON tickets (tenant_id, created_at DESC, id)")
    op.execute("CREATE INDEX tickets_queue ON tickets (tenant_id, serving_org_id, status)")
    op.execute("CREATE INDEX tickets_member ON tickets (tenant_id, member_home_tenant_id, member_id)")
    op.execute("CREATE INDEX tickets_sla_due ON tickets (tenant_id, next_sla_check) WHERE next_sla_check IS NOT NULL")
    # The roster counts every person's open tickets at every assignment.
    op.execute("CREATE INDEX tickets_assignee_open ON tickets (tenant_id, assignee) WHERE status IN (1, 2, 3, 4)")
    op.execute(
        """
        CREATE TABLE ticket_history (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            ticket_id uuid NOT NULL,
            at timestamptz NOT NULL,
            actor text NOT NULL,
            actor_name text NOT NULL DEFAULT '',
            action text NOT NULL,
            from_status smallint NOT NULL DEFAULT 0,
            to_status smallint NOT NULL DEFAULT 0,
            comment_kind smallint NOT NULL DEFAULT 0,
            body text NOT NULL DEFAULT '',
            PRIMARY KEY (tenant_id, id)
        )
        """
    )
    op.execute("CREATE INDEX ticket_history_ticket ON ticket_history (tenant_id, ticket_id, at, id)")
    # One row per (clock, warned|breached, cycle): the event of a warning or breach is emitted once. The update
    # clock runs in cycles (each update starts the next); a reopened ticket starts new cycles.
    op.execute(
        """
        CREATE TABLE ticket_sla_marks (
            tenant_id text NOT NULL,
            ticket_id uuid NOT NULL,
            clock text NOT NULL,
            kind text NOT NULL,
            cycle integer NOT NULL DEFAULT 0,
            at timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, ticket_id, clock, kind, cycle)
        )
        """
    )
    # ---- queues: who is on duty (round robin picks the one assigned longest ago)
    op.execute(
        """
        CREATE TABLE desk_duty (
            tenant_id text NOT NULL,
            queue text NOT NULL,
            user_name text NOT NULL,
            display_name text NOT NULL DEFAULT '',
            on_duty boolean NOT NULL DEFAULT true,
            since timestamptz NOT NULL DEFAULT now(),
            last_assigned_at timestamptz,
            PRIMARY KEY (tenant_id, queue, user_name)
        )
        """
    )
    # ---- attachments: content sealed with the PII keyring
    op.execute(
        """
        CREATE TABLE ticket_attachments (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            ticket_id uuid NOT NULL,
            filename text NOT NULL,
            content_type text NOT NULL,
            size_bytes bigint NOT NULL,
            sha256 text NOT NULL,
            content_enc bytea NOT NULL,
            uploaded_by text NOT NULL,
            created_at timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )
        """
    )
    op.execute("CREATE INDEX ticket_attachments_ticket ON ticket_attachments (tenant_id, ticket_id, created_at)")
    # ---- referrals (转办): one row on each side, keyed by the county holding it (incoming says which side).
    op.execute(
        """
        CREATE TABLE ticket_referrals (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            incoming boolean NOT NULL,
            ticket_id uuid,
            origin_ticket_id uuid NOT NULL,
            from_tenant_id text NOT NULL,
            to_tenant_id text NOT NULL,
            to_org_id uuid,
            direction smallint NOT NULL,
            status smallint NOT NULL,
            category text NOT NULL,
            member_home_tenant_id text NOT NULL,
            member_id uuid NOT NULL,
            member_name text NOT NULL DEFAULT '',
            title text NOT NULL DEFAULT '',
            summary text NOT NULL DEFAULT '',
            form jsonb NOT NULL DEFAULT '{}',
            reason text NOT NULL DEFAULT '',
            decline_reason text NOT NULL DEFAULT '',
            respond_by timestamptz NOT NULL,
            answered_at timestamptz,
            attempt integer NOT NULL DEFAULT 1,
            remote_ticket_id uuid,
            remote_org_name text NOT NULL DEFAULT '',
            resolution text NOT NULL DEFAULT '',
            request_id text,
            traceparent text NOT NULL DEFAULT '',
            created_at timestamptz NOT NULL,
            version integer NOT NULL DEFAULT 1,
            PRIMARY KEY (tenant_id, id),
            UNIQUE (tenant_id, request_id)
        )
        """
    )
    op.execute("CREATE INDEX ticket_referrals_list ON ticket_referrals (tenant_id, incoming, created_at DESC, id)")
    op.execute("CREATE INDEX ticket_referrals_due ON ticket_referrals (tenant_id, respond_by) WHERE status = 1")
    for table in _TABLES:
        kit.enable_tenant_rls(table)
    # The sweeps visit county by county; these name the counties with something due, nothing more.
    op.execute(
        """
        CREATE FUNCTION counties_with_sla_due_all_tenants(at timestamptz) RETURNS SETOF text
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
            SELECT DISTINCT tenant_id FROM tickets WHERE next_sla_check <= at ORDER BY 1
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION counties_with_referrals_due_all_tenants(at timestamptz) RETURNS SETOF text
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
            SELECT DISTINCT tenant_id FROM ticket_referrals WHERE status = 1 AND NOT incoming AND respond_by <= at
            ORDER BY 1
        $$
        """
    )


def downgrade() -> None:
    """Drop everything this revision created."""
    op.execute("DROP FUNCTION IF EXISTS counties_with_referrals_due_all_tenants(timestamptz)")
    op.execute("DROP FUNCTION IF EXISTS counties_with_sla_due_all_tenants(timestamptz)")
    for table in reversed(_TABLES):
        op.execute(f"DROP TABLE IF EXISTS {table}")
    op.execute("DROP FUNCTION IF EXISTS outbox_prune_sent_all_tenants(interval, integer)")
    op.execute("DROP INDEX IF EXISTS outbox_sent_at")
    kit.drop_outbox()
