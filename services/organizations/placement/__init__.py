"""Placement: which organisation should take a mobile member in, by the county's rules in order."""
