"""Every service's events turned into notices for the people they concern (no service calls notifications)."""
