"""The desk's replica concept."""
