"""The desk's referrals concept."""
