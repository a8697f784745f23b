"""notifications: the directory (orgs, officers, members, guests), people's choices, templates, channel settings,
deliveries (the inbox is the in-app ones) with per-viewer marks, and escalations

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from jinqiao.kit import migrations as kit

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TABLES = ("dir_orgs", "dir_appointments", "dir_members", "dir_guests", "people", "preferences", "templates",
           "channel_settings", "deliveries", "inbox_marks", "escalations")


def upgrade() -> None:
    """Create the tables under forced RLS and the functions that name counties with work due."""
    # The org tree of each county as organizations publishes it (OrgCreated/Moved/Renamed/Dissolved).
    op.execute(
        """
        CREATE TABLE dir_orgs (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            parent_id uuid,
            kind text NOT NULL DEFAULT '',
            name text NOT NULL DEFAULT '',
            dissolved boolean NOT NULL DEFAULT false,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id)
        )
        """
    )
    op.execute("CREATE INDEX dir_orgs_children ON dir_orgs (tenant_id, parent_id)")
    # Who holds which position at which org (OfficerAppointed/OfficerAppointmentEnded); the phone stays sealed.
    op.execute(
        """
        CREATE TABLE dir_appointments (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            officer_id uuid NOT NULL,
            org_id uuid NOT NULL,
            position text NOT NULL,
            officer_name text NOT NULL DEFAULT '',
            phone_enc bytea,
            phone_masked text NOT NULL DEFAULT '',
            ended boolean NOT NULL DEFAULT false,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id)
        )
        """
    )
    op.execute("CREATE INDEX dir_appointments_org ON dir_appointments (tenant_id, org_id) WHERE NOT ended")
    # The county's own members (MemberProfileChanged): name, home branch and township; the newest by occur time.
    op.execute(
        """
        CREATE TABLE dir_members (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            name text NOT NULL DEFAULT '',
            home_org_id uuid,
            township text NOT NULL DEFAULT '',
            active boolean NOT NULL DEFAULT true,
            seen_at timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )
        """
    )
    op.execute("CREATE INDEX dir_members_home ON dir_members (tenant_id, home_org_id) WHERE active")
    # Members of other counties (or this one) holding a temporary membership at this county's orgs.
    op.execute(
        """
        CREATE TABLE dir_guests (
            tenant_id text NOT NULL,
            membership_id uuid NOT NULL,
            member_id uuid NOT NULL,
            origin_tenant_id text NOT NULL,
            flow_id uuid,
            org_id uuid NOT NULL,
            state text NOT NULL,
            seen_at timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, membership_id)
        )
        """
    )
    op.execute("CREATE INDEX dir_guests_org ON dir_guests (tenant_id, org_id) WHERE state <> 'closed'")
    # A person's own settings: a member (member:<id>) or a login (user:<username>, whose seat is role + org).
    op.execute(
        """
        CREATE TABLE people (
            tenant_id text NOT NULL,
            address text NOT NULL,
            role text NOT NULL DEFAULT '',
            org_id text NOT NULL DEFAULT '',
            display_name text NOT NULL DEFAULT '',
            email_enc bytea,
            email_masked text NOT NULL DEFAULT '',
            phone_enc bytea,
            phone_masked text NOT NULL DEFAULT '',
            quiet_enabled boolean NOT NULL DEFAULT true,
            quiet_start time NOT NULL DEFAULT '22:00',
            quiet_end time NOT NULL DEFAULT '07:00',
            digest_time time NOT NULL DEFAULT '08:00',
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, address)
        )
        """
    )
    op.execute("CREATE INDEX people_seat ON people (tenant_id, role, org_id)")
    # Per person and category: the channels it may use (Channel enum values) and whether it goes in the digest.
    op.execute(
        """
        CREATE TABLE preferences (
            tenant_id text NOT NULL,
            address text NOT NULL,
            category text NOT NULL,
            channels smallint[] NOT NULL,
            digest boolean NOT NULL DEFAULT false,
            PRIMARY KEY (tenant_id, address, category),
            FOREIGN KEY (tenant_id, address) REFERENCES people (tenant_id, address) ON DELETE CASCADE
        )
        """
    )
    # A county's versions of a template (kind × channel); at most one active, none active = the platform default.
    op.execute(
        """
        CREATE TABLE templates (
            tenant_id text NOT NULL,
            kind text NOT NULL,
            channel smallint NOT NULL,
            version integer NOT NULL,
            subject text NOT NULL DEFAULT '',
            body text NOT NULL,
            active boolean NOT NULL DEFAULT true,
            created_by text NOT NULL DEFAULT '',
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, kind, channel, version)
        )
        """
    )
    op.execute("CREATE UNIQUE INDEX templates_one_active ON templates (tenant_id, kind, channel) WHERE active")
    # A county's channel: the non-secret settings in the clear, the secrets sealed (keyring; row = the channel).
    op.execute(
        """
        CREATE TABLE channel_settings (
            tenant_id text NOT NULL,
            channel smallint NOT NULL,
            enabled boolean NOT NULL DEFAULT false,
            settings jsonb NOT NULL DEFAULT '{}'::jsonb,
            secrets_enc bytea,
            rate_per_minute integer NOT NULL DEFAULT 60 CHECK (rate_per_minute BETWEEN 1 AND 100000),
            updated_at timestamptz NOT NULL DEFAULT now(),
            updated_by text NOT NULL DEFAULT '',
            PRIMARY KEY (tenant_id, channel)
        )
        """
    )
    # One message to one recipient on one channel. idempotency_key = source × recipient × channel, so an event
    # delivered again (or a consumer run twice) never sends twice. In-app rows are the inbox.
    op.execute(
        """
        CREATE TABLE deliveries (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            idempotency_key text NOT NULL,
            source_key text NOT NULL,
            event_id text NOT NULL DEFAULT '',
            kind text NOT NULL,
            category text NOT NULL,
            urgent boolean NOT NULL DEFAULT false,
            channel smallint NOT NULL,
            recipient text NOT NULL,
            recipient_label text NOT NULL DEFAULT '',
            destination_enc bytea,
            destination_masked text NOT NULL DEFAULT '',
            subject text NOT NULL DEFAULT '',
            body text NOT NULL DEFAULT '',
            link text NOT NULL DEFAULT '',
            escalation_id uuid,
            level integer NOT NULL DEFAULT 0,
            status smallint NOT NULL,
            hold_reason text NOT NULL DEFAULT '',
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL DEFAULT now(),
            last_error text NOT NULL DEFAULT '',
            digest_id uuid,
            created_at timestamptz NOT NULL DEFAULT now(),
            sent_at timestamptz,
            delivered_at timestamptz,
            PRIMARY KEY (tenant_id, id),
            UNIQUE (tenant_id, idempotency_key)
        )
        """
    )
    op.execute("CREATE INDEX deliveries_inbox ON deliveries (tenant_id, recipient, created_at DESC, id) "
               "WHERE channel = 1")
    op.execute("CREATE INDEX deliveries_due ON deliveries (tenant_id, next_attempt_at) WHERE status = 1")
    op.execute("CREATE INDEX deliveries_log ON deliveries (tenant_id, created_at DESC, id)")
    op.execute("CREATE INDEX deliveries_rate ON deliveries (tenant_id, channel, sent_at) WHERE sent_at IS NOT NULL")
    # What one viewer did with an inbox item (a seat's item is read or archived per login, not for the whole seat).
    op.execute(
        """
        CREATE TABLE inbox_marks (
            tenant_id text NOT NULL,
            delivery_id uuid NOT NULL,
            viewer text NOT NULL,
            read_at timestamptz,
            archived_at timestamptz,
            PRIMARY KEY (tenant_id, delivery_id, viewer),
            FOREIGN KEY (tenant_id, delivery_id) REFERENCES deliveries (tenant_id, id) ON DELETE CASCADE
        )
        """
    )
    # A matter climbing the org tree (overdue 报到, a breached SLA, a loan tier past its limit) until acknowledged.
    op.execute(
        """
        CREATE TABLE escalations (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            kind text NOT NULL,
            subject_type text NOT NULL,
            subject_id text NOT NULL,
            member_id uuid,
            state smallint NOT NULL DEFAULT 1,
            level integer NOT NULL DEFAULT 1,
            audience text NOT NULL DEFAULT '',
            start_org_id uuid,
            org_id uuid,
            facts jsonb NOT NULL DEFAULT '{}'::jsonb,
            opened_at timestamptz NOT NULL,
            next_escalation_at timestamptz,
            acknowledged_at timestamptz,
            acknowledged_by text NOT NULL DEFAULT '',
            note text NOT NULL DEFAULT '',
            resolved_at timestamptz,
            version integer NOT NULL DEFAULT 1,
            PRIMARY KEY (tenant_id, id),
            UNIQUE (tenant_id, kind, subject_id)
        )
        """
    )
    op.execute("CREATE INDEX escalations_due ON escalations (tenant_id, next_escalation_at) WHERE state = 1")
    for table in _TABLES:
        kit.enable_tenant_rls(table)
    # The worker and the escalation sweep visit county by county; these name the counties with work due, nothing more.
    op.execute(
        """
        CREATE FUNCTION counties_with_deliveries_due_all_tenants(at timestamptz) RETURNS SETOF text
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
            SELECT DISTINCT tenant_id FROM deliveries WHERE status = 1 AND next_attempt_at <= at ORDER BY 1
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION counties_with_escalations_due_all_tenants(at timestamptz) RETURNS SETOF text
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
            SELECT DISTINCT tenant_id FROM escalations WHERE state = 1 AND next_escalation_at <= at ORDER BY 1
        $$
        """
    )


def downgrade() -> None:
    """Drop everything this revision created."""
    op.execute("DROP FUNCTION IF EXISTS counties_with_escalations_due_all_tenants(timestamptz)")
    op.execute("DROP FUNCTION IF EXISTS counties_with_deliveries_due_all_tenants(timestamptz)")
    for table in reversed(_TABLES):
        op.execute(f"DROP TABLE IF EXISTS {table}")
