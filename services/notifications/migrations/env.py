"""Alembic environment of the notifications database (the kit does the work)."""

from jinqiao.kit.migrations import run_env

run_env()
