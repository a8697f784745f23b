"""Registry gRPC methods for 发展党员 among migrants (mixed into the servicer)."""

from __future__ import annotations


class DevelopmentApi:
    """Applicants, their stages, mentors and 双向考察."""
