"""The time zone of a slot: where its days (reports, schedules) and its creatives' hours begin and end.

``slots.timezone`` holds an IANA name (null = UTC); ``app.storage.catalog`` reads it into
``SlotConfig.zone`` (UTC, with a warning, for a name this system does not know). This module is
the one place that turns a slot, or a name, into a zone for output.
"""
from __future__ import annotations

from datetime import timezone, tzinfo
from typing import Optional

from app.storage.catalog import zone_of


def zone_named(name: Optional[str]) -> tzinfo:
    """The zone of an IANA name; UTC for None, an empty name or a name this system does not know."""
    return zone_of(name)[0]


def slot_zone(slot) -> tzinfo:
    """The zone of a slot (``SlotConfig``, or None for an unknown slot: UTC)."""
    return getattr(slot, "zone", None) or timezone.utc


def zone_label(zone: tzinfo) -> str:
    """A short name for output: 'UTC' or the IANA key."""
    return getattr(zone, "key", None) or "UTC"
