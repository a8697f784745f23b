"""Erasure persistence: what an erased member's columns become (the members row itself is members.models')."""

from __future__ import annotations

from jinqiao.registry.members.domain import ERASED

# The history entries of these fields hold the old and new values in clear (the address) or masked (the phone).
ERASED_HISTORY_FIELDS = ("phone", "household_address")
# What a masked number reads after erasure (the API shows it instead of a masked number).
ERASED_TEXT = ERASED
# The scheduled job erases at most this many members per county transaction, and walks counties in batches of it.
BATCH = 200
