"""Alembic scripts of the notifications database."""
