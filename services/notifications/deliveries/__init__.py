"""One message per recipient and channel: idempotent, held for quiet hours and digests, retried, logged."""
