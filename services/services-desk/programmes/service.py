"""Programme use cases: create, update (version-checked), read and list; the eligibility check's inputs."""

from __future__ import annotations
