"""Paging shared by every list RPC: page sizes and opaque page tokens."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Final

from kernel import errors

DEFAULT_PAGE: Final = 100
"""Items on a page when the request's `page_size` is 0."""
MAX_PAGE: Final = 1000
"""Larger page sizes are capped to this."""


def page_size(requested: int) -> int:
    """Normalise a page size: 0 means the default, the maximum caps it.

    Raises:
        Invalid: it is negative.
    """
    if requested < 0:
        raise errors.Invalid(f"page_size must not be negative, got {requested}")
    return min(requested or DEFAULT_PAGE, MAX_PAGE)


def encode_token(key: Sequence[str]) -> str:
    """Opaque page token holding the sort key of a page's last item."""
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def decode_token(token: str, size: int) -> list[str] | None:
    """Decode a page token holding `size` strings; empty means the first page.

    Raises:
        Invalid: the token was not made by `encode_token` with that many strings.
    """
    if not token:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, list) or len(key) != size or not all(isinstance(k, str) for k in key):
        raise errors.Invalid("page_token not valid: pass the next_page_token of a previous page")
    return [str(k) for k in key]
