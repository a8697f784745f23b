"""registry: members, flows and their ledgers."""
