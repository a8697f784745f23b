"""services-desk (jinqiao.desk): tickets and micro-loans for mobile members (not built yet)."""
