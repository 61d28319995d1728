"""The time window of a dashboard or metrics read: ``[since, until)`` from query parameters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
DEFAULT_WINDOW = "24h"
MAX_SPAN = timedelta(days=400)


class WindowError(ValueError):
    """A window parameter that cannot be read; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class StatsWindow:
    since: datetime
    until: datetime
    #: 24h, 7d, 30d or custom.
    name: str


def _moment(raw: str, field: str) -> datetime:
    value = parse_datetime(raw)
    if value is None:
        day = parse_date(raw)
        if day is None:
            raise WindowError(field, "Not an ISO 8601 date or date-time.")
        value = datetime(day.year, day.month, day.day)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value


def window_parse(params: Mapping[str, str]) -> StatsWindow:
    """Return the window of ``since``/``until`` or of ``window`` (24h, 7d, 30d; default 24h)."""
    window = params.get("window") or ""
    if window and window not in WINDOWS and window != "custom":
        raise WindowError("window", f"One of {', '.join(WINDOWS)}, custom.")
    until_raw, since_raw = params.get("until"), params.get("since")
    until = _moment(until_raw, "until") if until_raw else timezone.now()
    if since_raw:
        since = _moment(since_raw, "since")
        window = window or "custom"
    else:
        window = window if window in WINDOWS else DEFAULT_WINDOW
        since = until - WINDOWS[window]
    if since >= until:
        raise WindowError("since", "Must be before until.")
    if until - since > MAX_SPAN:
        raise WindowError("since", "The window is limited to 400 days.")
    return StatsWindow(since=since, until=until, name=window)


def window_of_form(params: Mapping[str, str]) -> tuple[StatsWindow, str | None]:
    """Return the window an admin form asks for, or the default one and the problem.

    The form always posts its date inputs; they count only when ``custom`` is picked.
    """
    values = {key: value for key, value in params.items() if value}
    if values.get("window") != "custom":
        values.pop("since", None)
        values.pop("until", None)
    try:
        return window_parse(values), None
    except WindowError as error:
        return window_parse({}), str(error)
