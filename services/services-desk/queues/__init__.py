"""The desk's queues concept."""
