"""The desk's categories concept."""
