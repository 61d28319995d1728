"""The time window of a dashboard or metrics read: ``[since, until)`` from query parameters."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
DEFAULT_WINDOW = "24h"
MAX_SPAN = timedelta(days=400)


@dataclass(frozen=True, slots=True)
class SeriesBucket:
    """The width of a time series' buckets; ``name`` is what the API calls it."""

    name: str
    width: timedelta

    def start(self, moment: datetime) -> datetime:
        """Return the start of the bucket holding ``moment`` (buckets count from ORIGIN)."""
        steps = (moment.astimezone(UTC) - BUCKET_ORIGIN) // self.width
        return BUCKET_ORIGIN + steps * self.width


#: Buckets start at whole multiples of their width from this Monday midnight (UTC), so that
#: hours start on the hour, days at midnight and weeks on Mondays.
BUCKET_ORIGIN = datetime(2001, 1, 1, tzinfo=UTC)
#: The widths a series may use, narrowest first.
SERIES_BUCKETS = tuple(
    SeriesBucket(name, width)
    for name, width in (
        ("second", timedelta(seconds=1)),
        ("5 seconds", timedelta(seconds=5)),
        ("15 seconds", timedelta(seconds=15)),
        ("30 seconds", timedelta(seconds=30)),
        ("minute", timedelta(minutes=1)),
        ("5 minutes", timedelta(minutes=5)),
        ("15 minutes", timedelta(minutes=15)),
        ("30 minutes", timedelta(minutes=30)),
        ("hour", timedelta(hours=1)),
        ("3 hours", timedelta(hours=3)),
        ("6 hours", timedelta(hours=6)),
        ("12 hours", timedelta(hours=12)),
        ("day", timedelta(days=1)),
        ("week", timedelta(days=7)),
    )
)
#: A series has at most this many buckets, unless even weeks are too narrow (a 400-day window
#: has 58). Neighbouring widths differ by five times at most, so it has at least seven.
SERIES_BUCKETS_MAX = 36


def series_bucket(since: datetime, until: datetime) -> SeriesBucket:
    """Return the narrowest bucket width that cuts ``[since, until)`` into few enough buckets.

    A window of 24 hours gets hours, 7 days six hours, 30 days days, an hour five minutes.
    """
    span = until - since
    for bucket in SERIES_BUCKETS:
        if math.ceil(span / bucket.width) <= SERIES_BUCKETS_MAX:
            return bucket
    return SERIES_BUCKETS[-1]


def series_starts(bucket: SeriesBucket, since: datetime, until: datetime) -> list[datetime]:
    """Return the start of every bucket that overlaps ``[since, until)``, in order."""
    starts = []
    at = bucket.start(since)
    while at < until:
        starts.append(at)
        at += bucket.width
    return starts


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


#: The instants a window may start or end at: a year inside what ``datetime`` holds on either
#: side, so that a default window before its end and a series' buckets never leave it.
MOMENT_MIN = datetime(2, 1, 1, tzinfo=UTC)
MOMENT_MAX = datetime(9998, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def _parsed(raw: str) -> datetime | None:
    value = parse_datetime(raw)
    if value is None:
        day = parse_date(raw)
        value = datetime(day.year, day.month, day.day) if day is not None else None
    return value


def _moment(raw: str, field: str) -> datetime:
    try:
        value = _parsed(raw)
    except ValueError:  # the pattern matched, the calendar did not: 2024-02-30, 25:00, +99:00
        raise WindowError(field, "Not a date or date-time that exists.") from None
    if value is None:
        raise WindowError(field, "Not an ISO 8601 date or date-time.")
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    try:
        in_range = MOMENT_MIN <= value.astimezone(UTC) <= MOMENT_MAX
    except OverflowError:  # before year 1 or after 9999 once in UTC
        in_range = False
    if not in_range:
        raise WindowError(field, "Must lie between 0002-01-01 and 9998-12-31 (UTC).")
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
