"""pytest-grpc's address for the contract smoke modules (`test_contract_pytest_grpc.py`)."""

from __future__ import annotations

import pytest

from tests.conftest import free_port


@pytest.fixture(scope="module")
def grpc_addr() -> str:
    """Where pytest-grpc serves a module's servicer.

    Overrides the plugin's own, which never closes its probe socket: a `ResourceWarning`, an
    error under `filterwarnings = error`.
    """
    return f"127.0.0.1:{free_port()}"
