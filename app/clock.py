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


_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
                      r"(?:([Zz])|([+-])(\d{2}):(\d{2}))?$")


def parse_rfc3339(value: str) -> Optional[datetime]:
    """An RFC 3339 date-time (``2026-11-24T10:15:00Z``, ``...10:15:00.250+05:30``) as aware UTC, or
    None when ``value`` is not one (a wrong shape, month 13, minute 99, offset +24:00). An offset
    left out is read as UTC; fractions beyond microseconds are cut."""
    match = _RFC3339.match(value)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    fraction, zulu, sign, offset_h, offset_m = match.groups()[6:]
    try:
        zone = timezone.utc
        if sign:
            if int(offset_h) > 23 or int(offset_m) > 59:
                return None
            offset = timedelta(hours=int(offset_h), minutes=int(offset_m))
            zone = timezone(offset if sign == "+" else -offset)
        moment = datetime(year, month, day, hour, minute, second, int((fraction or "0").ljust(6, "0")[:6]),
                          tzinfo=zone)
        return moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None


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
