"""Loan applications and their review: filing (the member or staff on their behalf), eligibility explained, the
public tiers (支部推荐 → 乡镇审核 → 县级审批) on working-day limits, the quota, and the partner bank's credit
decision."""
