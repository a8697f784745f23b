"""organizations: the org tree, stations, grids, officers and placement rules (not built yet)."""
