"""The embedded runtime: PostgreSQL and NATS from wheels, provisioning, and the process supervisor."""
