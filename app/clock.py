"""Moments in UTC: the one helper for driver timestamps and the one parser of ``--since``/``--until``."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Optional

MOMENT_HELP = ("date (2026-11-01, midnight of the slot's time zone, UTC without a slot), ISO 8601 date and "
               "time (2026-11-01T08:00, offsets allowed) or an age (90m, 24h, 7d)")
_AGE = re.compile(r"^(\d{1,6})([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


class MomentError(ValueError):
    """A moment that cannot be read; ``str(error)`` is the one line for the user."""


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime: naive values (as the Cassandra driver returns them) are UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def parse_moment(value: str, name: str, now: Optional[datetime] = None,
                 zone: tzinfo = timezone.utc) -> datetime:
    """An ISO date or date-time or an age before ``now`` ("7d"), as a UTC moment. A date or a date-time
    without an offset is a wall-clock time of ``zone`` (a slot's): "2026-11-23" in Asia/Kolkata is
    2026-11-22 18:30 UTC."""
    text = value.strip()
    match = _AGE.match(text)
    if match:
        return (now or now_utc()) - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MomentError(f"{name} must be a {MOMENT_HELP}, but {value!r} is given") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return utc(moment)


def parse_window(since: str, until: Optional[str], now: Optional[datetime] = None,
                 zone: tzinfo = timezone.utc) -> tuple:
    """``(start, end)`` of ``--since``/``--until`` (``end`` defaults to now; dates and date-times
    without an offset in ``zone``); start must come first."""
    now = now or now_utc()
    start = parse_moment(since, "--since", now, zone)
    end = parse_moment(until, "--until", now, zone) if until else now
    if start >= end:
        raise MomentError(f"--since ({start:%Y-%m-%d %H:%M}) must be before --until ({end:%Y-%m-%d %H:%M} UTC)")
    return start, end
