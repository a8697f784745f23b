"""The demo province `jinqiao up` seeds once: accounts, members, organizations and flows (not a service)."""
