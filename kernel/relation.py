"""Endpoint roles and scopes, and the two halves of a cross-model relation."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Role(StrEnum):
    """An endpoint's role (`provides` = provider, `requires` = requirer, `peers` = peer)."""

    PROVIDER = "provider"
    REQUIRER = "requirer"
    PEER = "peer"


class Scope(StrEnum):
    """An endpoint's scope; a relation is container-scoped if either endpoint is."""

    GLOBAL = "global"
    CONTAINER = "container"
    """Pairs units in one container only; needs a subordinate on one side."""


class Half(StrEnum):
    """Which half of a cross-model relation a model holds; both share the relation's token."""

    CONSUMER = "consumer"
    """The consuming model's half, relating a local application to the SAAS."""
    OFFERER = "offerer"
    """The offering model's half, relating the offered application to the proxy
    `remote-<hex>`; it carries the offer connection."""


JUJU_INFO: Final = "juju-info"
"""The implicit provider endpoint every application has without declaring it."""

REVOKED_MESSAGE: Final = "offer permission revoked"
"""Juju's status message of a relation suspended because its user lost consume access.

Shown to people only: the relations context records the cause beside it, and status decides by
that cause.
"""
