"""The desk's tickets concept."""
