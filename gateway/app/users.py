"""Sessions and users: log in and out, add, register, change passwords, enable, list."""

from __future__ import annotations

from cmr.access.v1 import access_pb2
from gateway.auth import Caller
from gateway.ports import Ports
from services.common.deadline import Deadline


class Users:
    """The session and user commands; access decides who may do what to whom."""

    def __init__(self, ports: Ports) -> None:
        self._ports = ports

    def login(self, user: str, password: str, deadline: Deadline) -> access_pb2.LoginResponse:
        """Open a session for a user with their password."""
        return self._ports.access.login(
            access_pb2.LoginRequest(user=user, password=password), deadline
        )

    def logout(self, caller: Caller, deadline: Deadline) -> None:
        """End the caller's session."""
        self._ports.access.logout(access_pb2.LogoutRequest(token=caller.token), deadline)

    def add(
        self, caller: Caller, name: str, display_name: str, deadline: Deadline
    ) -> access_pb2.AddUserResponse:
        """Add a local user and get their one-time registration secret."""
        return self._ports.access.add_user(
            access_pb2.AddUserRequest(actor=caller.user, name=name, display_name=display_name),
            deadline,
        )

    def register(
        self, user: str, secret: str, password: str, deadline: Deadline
    ) -> access_pb2.RegisterResponse:
        """Set a new user's password with their secret, and open a session."""
        return self._ports.access.register(
            access_pb2.RegisterRequest(user=user, secret=secret, password=password), deadline
        )

    def change_password(
        self, caller: Caller, user: str, password: str, deadline: Deadline
    ) -> None:
        """Change a password: the caller's own, or anyone's for a superuser."""
        self._ports.access.change_password(
            access_pb2.ChangePasswordRequest(actor=caller.user, user=user, password=password),
            deadline,
        )

    def set_enabled(self, caller: Caller, user: str, enabled: bool, deadline: Deadline) -> None:
        """Disable or enable a user (superuser only)."""
        self._ports.access.set_user_enabled(
            access_pb2.SetUserEnabledRequest(actor=caller.user, user=user, enabled=enabled),
            deadline,
        )

    def listed(
        self, include_disabled: bool, page_size: int, page_token: str, deadline: Deadline
    ) -> access_pb2.ListUsersResponse:
        """A page of users with their controller access."""
        return self._ports.access.list_users(
            access_pb2.ListUsersRequest(
                include_disabled=include_disabled, page_size=page_size, page_token=page_token
            ),
            deadline,
        )
