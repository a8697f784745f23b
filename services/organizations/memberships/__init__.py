"""Temporary memberships (临时组织关系): the placing county's side of the cross-county flow, check-in codes."""
