"""Name grammars shared by every context, the gateway and the command line."""

from __future__ import annotations

import pytest

from kernel.names import UNIT_NAME, is_controller_name, is_proxy_name


@pytest.mark.parametrize("name", ["ctrl2", "my_ctrl", "A-1"])
def test_controller_names_hold_no_url_separators(name: str) -> None:
    assert is_controller_name(name)
    for bad in (f"{name}.x", f"{name}:x", f"{name}/x"):
        assert not is_controller_name(bad)


def test_a_proxy_is_remote_and_32_hex_digits() -> None:
    assert is_proxy_name("remote-" + "0f" * 16)
    assert not is_proxy_name("remote-" + "0F" * 16)
    assert not is_proxy_name("remote-" + "0f" * 15)


@pytest.mark.parametrize(
    ("name", "valid"), [("mysql/0", True), ("mysql/01", False), ("my/x", False)]
)
def test_unit_names_are_application_slash_number(name: str, valid: bool) -> None:
    assert (UNIT_NAME.fullmatch(name) is not None) is valid
