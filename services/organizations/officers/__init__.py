"""Officers, their appointments, and the grids (网格) they lead."""
