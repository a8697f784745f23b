"""The organisation tree: founding, renaming, moving, dissolving, browsing and searching organisations."""
