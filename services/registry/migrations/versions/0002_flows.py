"""the member record (facts, history, current flow), flows and their hand-over state, policy timers,
activities, evaluations, returnees, the org replica and the province-wide duplicate check

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from jinqiao.kit import migrations as kit

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TABLES = ("member_changes", "flows", "certificate_counters", "flow_policies", "flow_alerts", "activities",
           "evaluations", "returnees", "org_replica")


def upgrade() -> None:
    """Create the flow tables, all under RLS, and the two narrow cross-county functions."""
    op.execute(
        """
        ALTER TABLE members
            ADD COLUMN ethnicity text NOT NULL DEFAULT '',
            ADD COLUMN education text NOT NULL DEFAULT '',
            ADD COLUMN home_branch_id uuid,
            ADD COLUMN household_address text NOT NULL DEFAULT '',
            ADD COLUMN full_member_date date,
            ADD COLUMN record_status smallint NOT NULL DEFAULT 1,
            ADD COLUMN flow_id uuid,
            ADD COLUMN flow_status smallint NOT NULL DEFAULT 0,
            ADD COLUMN destination_code text NOT NULL DEFAULT '',
            ADD COLUMN industry text NOT NULL DEFAULT ''
        """
    )
    # Name search is by any part of the name (ILIKE '%…%'), which only a trigram index serves.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE INDEX members_name ON members USING gin (name gin_trgm_ops)")
    op.execute("CREATE INDEX members_township ON members (tenant_id, township)")
    op.execute(
        "CREATE INDEX members_away ON members (tenant_id, flow_status, destination_code) WHERE flow_id IS NOT NULL"
    )
    op.execute(
        """
        CREATE TABLE member_changes (
            tenant_id text NOT NULL,
            member_id uuid NOT NULL,
            version bigint NOT NULL,
            changed_at timestamptz NOT NULL DEFAULT now(),
            actor text NOT NULL,
            fields jsonb NOT NULL,
            PRIMARY KEY (tenant_id, member_id, version)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE flows (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            member_id uuid NOT NULL,
            attempt integer NOT NULL DEFAULT 1,
            status smallint NOT NULL,
            destination_code text NOT NULL,
            placing_tenant_id text NOT NULL,
            out_of_province boolean NOT NULL,
            address text NOT NULL DEFAULT '',
            employer text NOT NULL DEFAULT '',
            industry text NOT NULL DEFAULT '',
            start_date date NOT NULL,
            destination_since date NOT NULL,
            expected_months integer NOT NULL,
            contact_phone_enc bytea,
            contact_phone_masked text NOT NULL DEFAULT '',
            certificate_serial text NOT NULL,
            certificate_valid_until date NOT NULL,
            membership_id uuid,
            org_id uuid,
            org_name text NOT NULL DEFAULT '',
            placement_rule text NOT NULL DEFAULT '',
            placement_reason text NOT NULL DEFAULT '',
            refusal_reason text NOT NULL DEFAULT '',
            refusal_advice text NOT NULL DEFAULT '',
            placement_requested_at timestamptz NOT NULL,
            offered_at timestamptz,
            checked_in_at timestamptz,
            check_in_method text NOT NULL DEFAULT '',
            last_report_date date,
            closed_on date,
            request_id text,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            version bigint NOT NULL DEFAULT 1,
            PRIMARY KEY (tenant_id, id),
            FOREIGN KEY (tenant_id, member_id) REFERENCES members (tenant_id, id),
            CONSTRAINT flows_certificate_unique UNIQUE (tenant_id, certificate_serial),
            CONSTRAINT flows_request_unique UNIQUE (tenant_id, request_id)
        )
        """
    )
    # One open flow per member: a member is away at one destination at a time.
    op.execute("CREATE UNIQUE INDEX flows_one_open ON flows (tenant_id, member_id) WHERE status IN (1, 2, 3, 4)")
    op.execute("CREATE INDEX flows_newest ON flows (tenant_id, created_at DESC, id DESC)")
    op.execute("CREATE INDEX flows_open ON flows (tenant_id, status) WHERE status IN (1, 2, 3, 4)")
    op.execute(
        """
        CREATE TABLE certificate_counters (
            tenant_id text NOT NULL,
            year integer NOT NULL,
            last integer NOT NULL,
            PRIMARY KEY (tenant_id, year)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE flow_policies (
            tenant_id text NOT NULL PRIMARY KEY,
            check_in_days integer NOT NULL,
            escalate_township_days integer NOT NULL,
            escalate_county_days integer NOT NULL,
            certificate_months integer NOT NULL,
            report_back_months integer NOT NULL,
            transfer_due_months integer NOT NULL,
            placement_timeout_hours integer NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE flow_alerts (
            tenant_id text NOT NULL,
            flow_id uuid NOT NULL,
            timer text NOT NULL,
            level integer NOT NULL,
            due_date date NOT NULL,
            member_id uuid NOT NULL,
            fired_at timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, flow_id, timer, level, due_date)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE activities (
            tenant_id text NOT NULL,
            id text NOT NULL,
            member_id uuid NOT NULL,
            flow_id uuid,
            occurred_on date NOT NULL,
            title text NOT NULL,
            note text NOT NULL DEFAULT '',
            org_name text NOT NULL DEFAULT '',
            source text NOT NULL,
            verified boolean NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id)
        )
        """
    )
    op.execute("CREATE INDEX activities_member ON activities (tenant_id, member_id, occurred_on DESC)")
    op.execute(
        """
        CREATE TABLE evaluations (
            tenant_id text NOT NULL,
            member_id uuid NOT NULL,
            year integer NOT NULL,
            destination_grade smallint NOT NULL DEFAULT 0,
            destination_comment text NOT NULL DEFAULT '',
            destination_org_name text NOT NULL DEFAULT '',
            home_grade smallint NOT NULL DEFAULT 0,
            home_comment text NOT NULL DEFAULT '',
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, member_id, year)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE returnees (
            tenant_id text NOT NULL,
            flow_id uuid NOT NULL,
            member_id uuid NOT NULL,
            destination_code text NOT NULL,
            return_date date NOT NULL,
            started_business boolean NOT NULL,
            business_name text NOT NULL DEFAULT '',
            joined_reserve_pool boolean NOT NULL,
            elected_village_committee boolean NOT NULL,
            village_post text NOT NULL DEFAULT '',
            note text NOT NULL DEFAULT '',
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, flow_id)
        )
        """
    )
    op.execute("CREATE INDEX returnees_newest ON returnees (tenant_id, return_date DESC, flow_id DESC)")
    op.execute(
        """
        CREATE TABLE org_replica (
            tenant_id text NOT NULL,
            id uuid NOT NULL,
            name text NOT NULL,
            kind text NOT NULL,
            dissolved boolean NOT NULL DEFAULT false,
            PRIMARY KEY (tenant_id, id)
        )
        """
    )
    for table in _TABLES:
        kit.enable_tenant_rls(table)
    # A person registered in another county of the province must be noticed without telling the asking
    # county which record it is: this answers yes or no, nothing else.
    op.execute(
        """
        CREATE FUNCTION member_registered_elsewhere_all_tenants(p_bidx bytea, p_tenant text) RETURNS boolean
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
            SELECT EXISTS (SELECT 1 FROM members WHERE id_number_bidx = p_bidx AND tenant_id <> p_tenant
                           AND record_status = 1)
        $$
        """
    )
    op.execute("CREATE INDEX members_bidx ON members (id_number_bidx) WHERE record_status = 1")
    # The policy timers sweep county by county; this names the counties that have open flows, nothing more.
    op.execute(
        """
        CREATE FUNCTION counties_with_open_flows_all_tenants() RETURNS SETOF text
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
            SELECT DISTINCT tenant_id FROM flows WHERE status IN (1, 2, 3, 4) ORDER BY 1
        $$
        """
    )


def downgrade() -> None:
    """Drop everything this revision created."""
    op.execute("DROP FUNCTION IF EXISTS counties_with_open_flows_all_tenants()")
    op.execute("DROP FUNCTION IF EXISTS member_registered_elsewhere_all_tenants(bytea, text)")
    for table in reversed(_TABLES):
        op.execute(f"DROP TABLE IF EXISTS {table}")
    op.execute("DROP INDEX IF EXISTS members_bidx")
    op.execute(
        "ALTER TABLE members DROP COLUMN ethnicity, DROP COLUMN education, DROP COLUMN home_branch_id,"
        " DROP COLUMN household_address, DROP COLUMN full_member_date, DROP COLUMN record_status,"
        " DROP COLUMN flow_id, DROP COLUMN flow_status, DROP COLUMN destination_code, DROP COLUMN industry"
    )
