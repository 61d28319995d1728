"""What strategies asks of the apps above it, and how they answer.

Strategies must not import the apps that stand on it; they register here instead:

- links on a version's change page: observability registers the link to a strategy's
  dashboard in its admin module; a link function answers None for a user who may not open
  the page;
- an experiment's report reads the runs of each arm from the execution logs, which belong to
  observability: it registers the reader in its ``AppConfig.ready()``. Until then a report has
  no run figures (``None``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from django.http import HttpRequest

    from gamification.models import Realm
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


@dataclass(frozen=True, slots=True)
class ArmRuns:
    """The logged runs of one version over a window, corrected for sampling.

    ``runs`` estimates every run: a failure counts once (all are logged), a sampled ok row
    for ``1 / sample_rate`` runs. ``rows`` is the raw count of log rows.
    """

    rows: int
    runs: float
    error_rate: float | None
    p95_ms: float | None


class ArmRunsReader(Protocol):
    def __call__(
        self, *, realm: Realm, definition_id: uuid.UUID, since: datetime, until: datetime
    ) -> ArmRuns:
        """Return the runs of version ``definition_id`` of ``realm`` in ``[since, until)``."""
        ...


_arm_runs_reader: ArmRunsReader | None = None


def arm_runs_reader_register(reader: ArmRunsReader) -> None:
    global _arm_runs_reader
    _arm_runs_reader = reader


def arm_runs_reader() -> ArmRunsReader | None:
    return _arm_runs_reader
