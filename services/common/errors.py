"""Error kinds raised by domain code; `services.common.status` maps them to gRPC codes.

Every message is for a person: what was refused, which entity, what to do. Lower-case, no full
stop, as Juju writes them. No passwords, tokens, file paths or SQL.
"""

from __future__ import annotations


class CmrError(Exception):
    """Base of every error a client may see; `str(err)` is the message it gets."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class Invalid(CmrError):
    """The request is malformed: a bad name, number, URL or metadata (INVALID_ARGUMENT)."""


class NotFound(CmrError):
    """The request names something that does not exist (NOT_FOUND)."""


class AlreadyExists(CmrError):
    """The request would create something that exists already (ALREADY_EXISTS)."""


class Refused(CmrError):
    """A rule refuses the request in the current state (FAILED_PRECONDITION)."""


class Forbidden(CmrError):
    """The caller may not do this (PERMISSION_DENIED)."""


class Unauthenticated(CmrError):
    """The caller is not, or no longer, logged in (UNAUTHENTICATED)."""


class Unavailable(CmrError):
    """A service this one depends on cannot be reached (UNAVAILABLE)."""
