"""The 七有 checklist of 驻外党组织."""
