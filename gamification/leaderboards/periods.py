"""The periods of a leaderboard in a realm's time zone: all time, day, week (from Monday), month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from django.core.exceptions import ValidationError
from django.db import models


class LeaderboardPeriod(models.TextChoices):
    ALL = "all", "All time"
    DAY = "day", "Day"
    WEEK = "week", "Week"
    MONTH = "month", "Month"


#: The period start of the all-time board: one board, whatever the award's date.
ALL_TIME_START = date(1, 1, 1)


@cache
def _timezone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def timezone_validate(name: str) -> None:
    """Model and form validator: an IANA time zone name such as ``Europe/Paris``."""
    if name not in _timezone_names():
        raise ValidationError(f"{name!r} is not an IANA time zone name such as Europe/Paris.")


def period_start(*, period: LeaderboardPeriod, day: date) -> date:
    """Return the first day of the ``period`` that holds the local date ``day``."""
    if period == LeaderboardPeriod.DAY:
        return day
    if period == LeaderboardPeriod.WEEK:
        return day - timedelta(days=day.weekday())
    if period == LeaderboardPeriod.MONTH:
        return day.replace(day=1)
    return ALL_TIME_START


def _next_start(*, period: LeaderboardPeriod, start: date) -> date:
    if period == LeaderboardPeriod.DAY:
        return start + timedelta(days=1)
    if period == LeaderboardPeriod.WEEK:
        return start + timedelta(days=7)
    assert period == LeaderboardPeriod.MONTH, "the all-time board has no end"
    return (start + timedelta(days=32)).replace(day=1)


@dataclass(frozen=True, slots=True)
class PeriodStarts:
    """The local dates that start the day, week and month of one moment in one time zone."""

    day: date
    week: date
    month: date


def period_starts(*, timezone: str, at: datetime) -> PeriodStarts:
    """Return the starts of the periods holding ``at`` in ``timezone`` (an award's boards)."""
    day = at.astimezone(ZoneInfo(timezone)).date()
    return PeriodStarts(
        day=day,
        week=period_start(period=LeaderboardPeriod.WEEK, day=day),
        month=period_start(period=LeaderboardPeriod.MONTH, day=day),
    )


@dataclass(frozen=True, slots=True)
class PeriodBounds:
    """The current period of a board: its key (``start``) and its local bounds.

    ``since`` and ``until`` are None for all time; else local midnights, aware, in the
    realm's zone (a day across a DST change lasts 23 or 25 hours).
    """

    period: LeaderboardPeriod
    start: date
    since: datetime | None
    until: datetime | None


def period_current(*, period: LeaderboardPeriod, timezone: str, now: datetime) -> PeriodBounds:
    """Return the period of kind ``period`` that holds ``now`` in ``timezone``."""
    if period == LeaderboardPeriod.ALL:
        return PeriodBounds(period=period, start=ALL_TIME_START, since=None, until=None)
    zone = ZoneInfo(timezone)
    start = period_start(period=period, day=now.astimezone(zone).date())
    end = _next_start(period=period, start=start)
    return PeriodBounds(
        period=period,
        start=start,
        since=datetime.combine(start, time(), tzinfo=zone),
        until=datetime.combine(end, time(), tzinfo=zone),
    )
