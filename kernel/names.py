"""Names and their grammar: controllers, users, models, applications, units, endpoints.

Juju's grammars (juju/names@v5) with cmr's rule for controller names. Every context checks names
with these, and so do the gateway and the command line before they send anything.
"""

from __future__ import annotations

import re
from typing import Final

APPLICATION_NAME: Final = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]*[a-z][a-z0-9]*)*")
"""Applications, offers and SAAS aliases: every part after a hyphen needs a letter."""
MODEL_NAME: Final = re.compile(r"[a-z0-9]+[a-z0-9-]*")
"""Model names: lower-case letters, digits and hyphens, not starting with a hyphen."""
MAX_MODEL_NAME: Final = 128
"""Longest model name, in characters."""
USER_NAME: Final = re.compile(
    r"[a-zA-Z0-9][a-zA-Z0-9.+-]*[a-zA-Z0-9](?:@[a-zA-Z0-9][a-zA-Z0-9.+-]*[a-zA-Z0-9])?"
)
"""Juju's user name: at least two characters, `bob` or `bob@external`."""
ENDPOINT_NAME: Final = re.compile(r"[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*")
"""Endpoint (relation) names such as `db-admin` or `juju_info`."""
CONTROLLER_NAME: Final = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]*")
"""cmr's rule: no `.`, `:` or `/`, so offer URLs stay unambiguous."""
UNIT_NAME: Final = re.compile(r"(?P<app>[a-z][a-z0-9-]*)/(?P<n>0|[1-9][0-9]*)")
"""`application/number`, the number without leading zeros."""
MACHINE_ID: Final = re.compile(r"0|[1-9][0-9]*")
"""A top-level machine number, without leading zeros."""
PROXY_NAME: Final = re.compile(r"remote-[0-9a-f]{32}")
"""The offering model's stand-in for a consuming application, `remote-<32 hex>`."""


def is_application_name(name: str) -> bool:
    """True for a valid application, offer or SAAS name (`foo-1` is not; `foo-1a` is)."""
    return APPLICATION_NAME.fullmatch(name) is not None


def is_model_name(name: str) -> bool:
    """True for a valid model name of at most 128 characters."""
    return len(name) <= MAX_MODEL_NAME and MODEL_NAME.fullmatch(name) is not None


def is_user_name(name: str) -> bool:
    """True for a valid local (`bob`) or external (`bob@external`) user name."""
    return USER_NAME.fullmatch(name) is not None


def is_endpoint_name(name: str) -> bool:
    """True for a valid endpoint (relation) name such as `db-admin` or `juju_info`."""
    return ENDPOINT_NAME.fullmatch(name) is not None


def is_controller_name(name: str) -> bool:
    """True for a valid controller name."""
    return CONTROLLER_NAME.fullmatch(name) is not None


def is_proxy_name(name: str) -> bool:
    """True for the name of a consuming application's proxy in an offering model."""
    return PROXY_NAME.fullmatch(name) is not None
