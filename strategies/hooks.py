"""What the strategies admin asks of the apps above it: links on a version's change page.

Strategies must not import the apps that stand on it. Observability registers the link to a
strategy's dashboard in its admin module; a link function answers None for a user who may
not open the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from django.http import HttpRequest

    from strategies.models import StrategyDefinition


@dataclass(frozen=True, slots=True)
class ChangePageLink:
    #: Names the link in the page (``id="strategy-link-<name>"``).
    name: str
    label: str
    url: str


class ChangePageLinkFor(Protocol):
    def __call__(
        self, *, request: HttpRequest, strategy: StrategyDefinition
    ) -> ChangePageLink | None:
        """Return the link for this user and version, or None."""
        ...


_links: dict[str, ChangePageLinkFor] = {}


def change_page_link_register(*, name: str, link: ChangePageLinkFor) -> None:
    _links[name] = link


def change_page_links(
    *, request: HttpRequest, strategy: StrategyDefinition
) -> list[ChangePageLink]:
    """Return the links registered for a version's change page that this user may follow."""
    found = (link(request=request, strategy=strategy) for link in _links.values())
    return [link for link in found if link is not None]
