"""The caller's inbox: the in-app deliveries addressed to them or their office, read and archived per viewer."""
