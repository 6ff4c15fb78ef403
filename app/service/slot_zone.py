"""The time zone of a slot: where its days (reports, schedules) begin and end.

Slots have no time zone column yet, so every slot is in UTC. Once ``slots.timezone`` (an IANA name,
null = UTC) is loaded into ``SlotConfig.timezone``, this is the one place that reads it.
"""
from __future__ import annotations

from datetime import timezone, tzinfo
from typing import Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone_named(name: Optional[str]) -> tzinfo:
    """The zone of an IANA name; UTC for None, an empty name or a name this system does not know."""
    if not name:
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def slot_zone(slot) -> tzinfo:
    """The zone of a slot (``SlotConfig``, or None for an unknown slot): UTC until slots carry a zone."""
    return zone_named(getattr(slot, "timezone", None))


def zone_label(zone: tzinfo) -> str:
    """A short name for output: 'UTC' or the IANA key."""
    return getattr(zone, "key", None) or "UTC"
