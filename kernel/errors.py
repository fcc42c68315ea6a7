"""Typed errors: a kind (what status code a client gets) and a machine-readable reason.

The kind decides the gRPC code (`services.common.status` holds the one table); the reason rides
along as a `google.rpc.ErrorInfo`, so callers in any language branch on it, never on the
message. Every message is for a person: what was refused, which entity, what to do. Lower-case,
no full stop, as Juju writes them. No passwords, tokens, file paths or SQL.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Final

DOMAIN: Final = "cmr"
"""The `ErrorInfo.domain` of every reason below."""


class Reason(StrEnum):
    """Why a request failed, as `ErrorInfo.reason`: stable, upper snake case."""

    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    REFUSED = "REFUSED"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    UNAVAILABLE = "UNAVAILABLE"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"  # noqa: S105 - a reason, not a secret
    """An offer token this controller signed has expired; renew it and try again."""
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    """A service of this controller cannot be reached (named in the message)."""
    PEER_UNAVAILABLE = "PEER_UNAVAILABLE"
    """Another controller cannot be reached."""
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    """Too many failed logins for a user name lately; wait, then try again."""


class CmrError(Exception):
    """Base of every error a client may see; `str(err)` is the message it gets."""

    default_reason: ClassVar[Reason] = Reason.INVALID

    def __init__(self, message: str, *, reason: Reason | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason: Reason = reason or self.default_reason

    def __str__(self) -> str:
        return self.message


class Invalid(CmrError):
    """The request is malformed: a bad name, number, URL or metadata (INVALID_ARGUMENT)."""

    default_reason = Reason.INVALID


class NotFound(CmrError):
    """The request names something that does not exist (NOT_FOUND)."""

    default_reason = Reason.NOT_FOUND


class AlreadyExists(CmrError):
    """The request would create something that exists already (ALREADY_EXISTS)."""

    default_reason = Reason.ALREADY_EXISTS


class Refused(CmrError):
    """A rule refuses the request in the current state (FAILED_PRECONDITION)."""

    default_reason = Reason.REFUSED


class Forbidden(CmrError):
    """The caller may not do this (PERMISSION_DENIED)."""

    default_reason = Reason.FORBIDDEN


class Unauthenticated(CmrError):
    """The caller is not, or no longer, logged in (UNAUTHENTICATED)."""

    default_reason = Reason.UNAUTHENTICATED


class Unavailable(CmrError):
    """A service this one depends on cannot be reached (UNAVAILABLE)."""

    default_reason = Reason.UNAVAILABLE
