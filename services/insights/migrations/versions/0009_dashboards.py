"""flow figures pre-aggregated by the consumers, so a province's dashboard reads cells, not 150,000 flows (issue 16)

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Callable

from alembic import op

from jinqiao.kit import migrations as kit

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Cells of 1 … SIZES flows are counted per size, so thresholds up to SIZES + 1 are answered from the sizes.
SIZES = 20
_AREA = ("CASE WHEN length(destination_code) < 4 THEN destination_code"
         " WHEN left(destination_code, 2) IN ('11', '12', '31', '50') THEN left(destination_code, 2) || '0000'"
         " ELSE left(destination_code, 4) || '00' END")


def upgrade() -> None:
    """The matrix's cells with their status counts, coverage atoms, cell sizes and trend months; filled from facts."""
    # One row per (origin, destination, start month, trade) of registered flows: the matrix's own cells, with the
    # counts its coverage and unorganised figures add up ('' for a flow whose start month is unknown). The consumers
    # add signed deltas with INSERT … ON CONFLICT, whose proposed row is checked before the conflict: no CHECK >= 0.
    op.execute(
        """
        CREATE TABLE flow_cells (
            tenant_id text NOT NULL,
            destination_code text NOT NULL,
            month text NOT NULL,
            industry text NOT NULL,
            flows bigint NOT NULL DEFAULT 0,
            away bigint NOT NULL DEFAULT 0,
            offered bigint NOT NULL DEFAULT 0,
            managed bigint NOT NULL DEFAULT 0,
            overdue bigint NOT NULL DEFAULT 0,
            held bigint NOT NULL DEFAULT 0,
            PRIMARY KEY (tenant_id, destination_code, month, industry)
        )
        """
    )
    kit.enable_scope_rls("flow_cells")
    # Registered flows per origin, derived status and overdue 报到: the parts of every coverage figure.
    op.execute(
        """
        CREATE TABLE flow_atoms (
            tenant_id text NOT NULL,
            status text NOT NULL CHECK (status IN ('WAITING', 'REFUSED', 'OFFERED', 'MANAGED', 'CLOSED')),
            overdue_pending boolean NOT NULL,
            flows bigint NOT NULL DEFAULT 0,
            PRIMARY KEY (tenant_id, status, overdue_pending)
        )
        """
    )
    kit.enable_scope_rls("flow_atoms")
    # Per origin and destination city (axis AREA) or start month (axis MONTH): the flows of its cells and how many
    # of its cells hold exactly k flows (small[k], k = 1 … SIZES). A dashboard's sum of published cells under any
    # threshold t ≤ SIZES + 1 is then flows − Σ_{k<t} k·small[k], with Σ_{k<t} small[k] cells left out.
    op.execute(
        f"""
        CREATE TABLE flow_cell_sizes (
            tenant_id text NOT NULL,
            axis text NOT NULL CHECK (axis IN ('AREA', 'MONTH')),
            key text NOT NULL,
            flows bigint NOT NULL DEFAULT 0,
            small bigint[] NOT NULL CHECK (cardinality(small) = {SIZES}),
            PRIMARY KEY (tenant_id, axis, key)
        )
        """
    )
    kit.enable_scope_rls("flow_cell_sizes")
    # Members checked in or returned per county and month, of registered flows only.
    op.execute(
        """
        CREATE TABLE flow_month_counts (
            tenant_id text NOT NULL,
            kind text NOT NULL CHECK (kind IN ('CHECKED_IN', 'RETURNED')),
            month text NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
            members bigint NOT NULL DEFAULT 0 CHECK (members >= 0),
            PRIMARY KEY (tenant_id, kind, month)
        )
        """
    )
    kit.enable_scope_rls("flow_month_counts")
    # Filled from the facts already held (the migration runs as the owner, before any consumer starts).
    fill(op.execute)


def fill(execute: Callable[[str], object], *, tenant_prefix: str = "") -> None:
    """Fill the kept figures from the facts (of the counties whose code starts with ``tenant_prefix``)."""
    only = f"tenant_id LIKE '{tenant_prefix}%'" if tenant_prefix.isdigit() else "true"
    execute(
        f"""
        INSERT INTO flow_cells (tenant_id, destination_code, month, industry, flows, away, offered, managed, overdue,
                                held)
        SELECT tenant_id, destination_code, coalesce(month, ''), industry, count(*), count(*) FILTER (WHERE NOT closed),
               count(*) FILTER (WHERE status IN ('OFFERED', 'MANAGED')), count(*) FILTER (WHERE status = 'MANAGED'),
               count(*) FILTER (WHERE overdue_pending), count(*) FILTER (WHERE held)
          FROM flow_facts WHERE registered AND {only}
         GROUP BY tenant_id, destination_code, coalesce(month, ''), industry
        """
    )
    execute(
        "INSERT INTO flow_atoms (tenant_id, status, overdue_pending, flows)"
        f" SELECT tenant_id, status, overdue_pending, count(*) FROM flow_facts WHERE registered AND {only}"
        " GROUP BY tenant_id, status, overdue_pending"
    )
    for axis, key in (("AREA", _AREA), ("MONTH", "month")):
        execute(
            f"""
            INSERT INTO flow_cell_sizes (tenant_id, axis, key, flows, small)
            SELECT tenant_id, '{axis}', key, sum(flows), array_agg(n ORDER BY k)
              FROM (SELECT c.tenant_id, c.key, k, sum(c.flows) FILTER (WHERE k = 1) AS flows,
                           count(*) FILTER (WHERE c.flows = k) AS n
                      FROM (SELECT tenant_id, {key} AS key, flows FROM flow_cells WHERE flows > 0 AND {only}) c,
                           generate_series(1, {SIZES}) k
                     GROUP BY c.tenant_id, c.key, k) per_size
             GROUP BY tenant_id, key
            """
        )
    execute(
        "INSERT INTO flow_month_counts (tenant_id, kind, month, members)"
        " SELECT m.tenant_id, m.kind, m.month, count(*) FROM flow_months m"
        " JOIN flow_facts f ON f.tenant_id = m.tenant_id AND f.flow_id = m.flow_id AND f.registered"
        f" WHERE {only.replace('tenant_id', 'm.tenant_id')} GROUP BY m.tenant_id, m.kind, m.month"
    )


def downgrade() -> None:
    """Drop everything this revision created."""
    for table in ("flow_month_counts", "flow_cell_sizes", "flow_atoms", "flow_cells"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
