"""Domain errors every service raises; one interceptor maps them to gRPC status codes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One offending field (snake_case path, e.g. ``id_number``) and why, in zh-CN first."""

    field: str
    description: str


class DomainError(Exception):
    """Base of the errors a use case may raise on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The object does not exist or lies outside the caller's tenant (the two look the same)."""


class AlreadyExists(DomainError):
    """A unique fact (e.g. the same ID number in one county) is already recorded."""


class FailedPrecondition(DomainError):
    """The object is not in a state that allows the operation."""


class Unauthenticated(DomainError):
    """No valid credentials."""


class PermissionDenied(DomainError):
    """Valid credentials, but the role may not do this."""


class ForgedEvent(PermissionDenied):
    """An event whose claimed origin disagrees with what the consumer holds: dead-lettered, never applied."""


class InvalidArgument(DomainError):
    """Input that breaks a rule; carries the field violations."""

    def __init__(self, violations: list[FieldViolation] | FieldViolation, message: str = "") -> None:
        found = [violations] if isinstance(violations, FieldViolation) else list(violations)
        super().__init__(message or "请求参数无效：" + "；".join(f"{v.field} {v.description}" for v in found))
        self.violations = found

    @classmethod
    def field(cls, field: str, description: str) -> InvalidArgument:
        """Shorthand for a single offending field."""
        return cls(FieldViolation(field, description))
