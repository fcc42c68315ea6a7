"""The controller's identity: fixed at the first start, read by every later one."""

from __future__ import annotations

from collections.abc import Callable

from kernel import errors
from kernel.names import CONTROLLER_NAME
from services.access.domain.store import Access
from services.access.domain.values import ControllerInfo, quote


def ensure_controller(access: Access, name: str, new_uuid: Callable[[], str]) -> ControllerInfo:
    """Fix the controller's identity at the first start; later starts keep the stored one.

    Args:
        access: the store.
        name: the configured controller name, used only when the store is new.
        new_uuid: returns a fresh UUID, used only when the store is new.

    Raises:
        Invalid: the store is new and `name` is not a valid controller name.
    """
    with access.transaction():
        if (info := access.controller_info()) is not None:
            return info
        if not CONTROLLER_NAME.fullmatch(name):
            raise errors.Invalid(f"controller name {quote(name)} not valid")
        info = ControllerInfo(name=name, uuid=new_uuid())
        access.set_controller_info(info)
        return info


def controller_info(access: Access) -> ControllerInfo:
    """Return the controller's identity.

    Raises:
        Unavailable: the store has not been initialised (a start-up bug).
    """
    with access.transaction():
        info = access.controller_info()
    if info is None:
        raise errors.Unavailable("the controller identity is not set up yet")
    return info
