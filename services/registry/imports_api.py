"""Registry gRPC methods for 台账 imports (mixed into the servicer)."""

from __future__ import annotations


class ImportsApi:
    """StartMemberImport and GetMemberImport."""
