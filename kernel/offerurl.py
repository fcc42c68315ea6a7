"""Offer URLs, `[controller:][owner/]model.offer[:endpoint]`, and the names they contain.

Juju 3.6's grammar (juju/juju@3.6:core/crossmodel/offerurl.go) with one fix:
Juju reads `prod.mysql:db-admin` as controller `prod.mysql` because `db-admin` is not
alphanumeric. Here, with two `:`-separated parts, the tail is an endpoint when it is a valid
endpoint name and the head contains `.`; otherwise the head is the controller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Final

from kernel import errors
from kernel.names import (
    is_application_name,
    is_controller_name,
    is_endpoint_name,
    is_model_name,
    is_user_name,
)

_PATH: Final = re.compile(
    r"/?(?:(?P<user>[^/]+)/)?(?P<model>[^.]*)(?:\.(?P<offer>[^:]*)(?::(?P<endpoint>.*))?)?"
)


def _split_source(text: str) -> tuple[str, str]:
    """Split `[controller:]path`; Juju 3.6's rule with cmr's fix for `model.offer:endpoint`."""
    parts = text.split(":")
    if len(parts) == 3:
        return parts[0], f"{parts[1]}:{parts[2]}"
    if len(parts) == 2:
        head, tail = parts
        if is_endpoint_name(tail) and "." in head:
            return "", text
        return head, tail
    return "", text


@dataclass(frozen=True, slots=True)
class OfferURL:
    """A parsed offer URL; empty fields were not given (a partial URL, or defaults unfilled)."""

    source: str = ""
    """The controller name; empty means the current controller."""
    user: str = ""
    """The offering model's owner; empty means the calling user (not the model owner)."""
    model: str = ""
    """The offering model's name."""
    offer: str = ""
    """The offer name (application-name grammar)."""
    endpoint: str = ""
    """An endpoint of the offer; `add-relation` accepts one, consume and remove-offer refuse it."""

    @classmethod
    def parse(cls, text: str) -> OfferURL:
        """Parse a complete offer URL, `[controller:][owner/]model.offer[:endpoint]`.

        Checks run in Juju's order: form, model, offer, user, model name, offer name (then, in
        cmr, the controller and the endpoint names).

        Raises:
            Invalid: with Juju's message, such as `application offer URL is missing model`.
        """
        return cls._parse(text, complete=True)

    @classmethod
    def parse_filter(cls, text: str) -> OfferURL:
        """Parse a partial URL as `find-offers` accepts it.

        `controller:`, `owner/model`, `controller:/model`, `model.offer` and `""` are all
        accepted; missing parts stay empty. Names present are still checked.

        Raises:
            Invalid: the form or a name is not valid.
        """
        return cls._parse(text, complete=False)

    @classmethod
    def _parse(cls, text: str, *, complete: bool) -> OfferURL:
        source, path = _split_source(text)
        found = _PATH.fullmatch(path)
        if (
            text.startswith(":")
            or found is None
            or "/" in (found["model"] or "")
            or "/" in (found["offer"] or "")
        ):
            raise errors.Invalid(
                "application offer URL has invalid form, must be [<user/]<model>.<appname>: "
                f'"{text}"'
            )
        user = found["user"] or ""
        model = found["model"] or ""
        offer = found["offer"] or ""
        endpoint = found["endpoint"] or ""
        if complete and not model:
            raise errors.Invalid("application offer URL is missing model")
        if complete and not offer:
            raise errors.Invalid("application offer URL is missing application")
        if user and not is_user_name(user):
            raise errors.Invalid(f'user name "{user}" not valid')
        if model and not is_model_name(model):
            raise errors.Invalid(f'model name "{model}" not valid')
        if offer and not is_application_name(offer):
            raise errors.Invalid(f'application name "{offer}" not valid')
        if source and not is_controller_name(source):
            raise errors.Invalid(f'controller name "{source}" not valid')
        if endpoint and not is_endpoint_name(endpoint):
            raise errors.Invalid(f'endpoint name "{endpoint}" not valid')
        return cls(source=source, user=user, model=model, offer=offer, endpoint=endpoint)

    def with_defaults(self, controller: str, user: str) -> OfferURL:
        """Fill a missing controller with `controller` and a missing owner with `user`.

        The owner defaults to the calling user, as in Juju, which is why scripts write
        `admin/prod.mysql`.
        """
        return replace(self, source=self.source or controller, user=self.user or user)

    def without_endpoint(self) -> OfferURL:
        """The URL of the offer itself."""
        return replace(self, endpoint="")

    def __str__(self) -> str:
        """The canonical form, `[controller:][owner/]model[.offer][:endpoint]`."""
        text = f"{self.user}/{self.model}" if self.user else self.model
        if self.offer:
            text = f"{text}.{self.offer}"
        if self.endpoint:
            text = f"{text}:{self.endpoint}"
        if self.source:
            text = f"{self.source}:{text}"
        return text
