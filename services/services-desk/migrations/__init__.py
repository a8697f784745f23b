"""Alembic scripts of the desk database."""
