"""Gateway helpers: model references and bearer tokens."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.auth import bearer_token
from gateway.resolve import split_model_ref
from kernel import errors


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("prod", ("alice", "prod")),
        ("bob/prod", ("bob", "prod")),
    ],
)
def test_model_ref_owner_defaults_to_the_caller(ref: str, expected: tuple[str, str]) -> None:
    assert split_model_ref(ref, "alice") == expected


@pytest.mark.parametrize("ref", ["", "/prod", "bob/", "a/b/c"])
def test_bad_model_refs_are_invalid(ref: str) -> None:
    with pytest.raises(errors.Invalid):
        split_model_ref(ref, "alice")


class _Context:
    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self._metadata = metadata

    def invocation_metadata(self) -> Any:
        return self._metadata


def test_bearer_token_is_read_from_authorization_metadata() -> None:
    context: Any = _Context((("x-other", "1"), ("authorization", "Bearer abc.def")))
    assert bearer_token(context) == "abc.def"


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ((), "no credentials"),
        ((("authorization", "Basic abc"),), "malformed authorization"),
        ((("authorization", "Bearer "),), "malformed authorization"),
    ],
)
def test_missing_or_malformed_credentials_are_unauthenticated(
    metadata: tuple[tuple[str, str], ...], message: str
) -> None:
    context: Any = _Context(metadata)
    with pytest.raises(errors.Unauthenticated, match=message):
        bearer_token(context)
