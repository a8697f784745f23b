"""The desk's calendar concept."""
