"""organizations: the org tree, placement, the 七有 checklist, officers and grids, meetings, temporary memberships."""
