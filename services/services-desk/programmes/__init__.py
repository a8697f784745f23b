"""Loan programmes (党员先锋贷, 小额信用贷款, 创业担保贷款): a county's terms with its partner bank, and the
eligibility rules checked against a member's facts."""
