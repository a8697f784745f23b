"""The shared kit: cross-cutting code written once for every service; no business logic."""
