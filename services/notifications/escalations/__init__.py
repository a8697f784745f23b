"""Matters that climb the org tree until somebody acknowledges them (overdue 报到, breached SLAs, loan tiers)."""
