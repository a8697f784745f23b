"""Nothing needed: a subtree page is already one range scan of orgs_path_key (tenant_id, path_key) in tree order.

The page reads its root in the same statement (see ``repo.SUBTREE_PAGE``); EXPLAIN ANALYZE as the app role under RLS
shows one index scan of 201 rows and no sort or count, so no new index or column would help.

Revision ID: 0013
Revises: 0012
"""

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing needed (see the module docstring)."""


def downgrade() -> None:
    """Nothing to undo."""
