"""Members of a county: the roster, its history, the org replica and members transferred in."""
