"""Alembic environment of the desk database (the kit does the work)."""

from jinqiao.kit.migrations import run_env

run_env()
