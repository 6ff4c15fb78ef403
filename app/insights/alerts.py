"""What a report message warns about: creatives whose click-through fell by more than half against their
previous week, and a slot whose decisions fail (no creative can be shown: none active, none for a city
with traffic, every flight ended, or none inside its flight and hours right now) or whose last scheduled
report could not be delivered.

A week-over-week drop counts only where both weeks have enough impressions for it to be more than
noise: at MIN_IMPRESSIONS impressions and MIN_CLICKS clicks in the earlier week (a rate of 5% over 200
impressions has a standard error of about 1.5 points, so halving it is a shift of about 1.7 standard errors
at the least, and more as traffic grows).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Dict, Iterable, List, Optional, Tuple

from app.clock import now_utc
from app.storage import SlotConfig
from app.storage.history import LoggedEvent
from bandit import ArmCounts

WEEK = timedelta(days=7)
MIN_IMPRESSIONS = 200
MIN_CLICKS = 10
DROP = 0.5


def weekly_counts(events: Iterable[LoggedEvent], end: datetime) -> Tuple[Dict[str, ArmCounts], Dict[str, ArmCounts]]:
    """({creative: counts} of [end - 7d, end), the same of [end - 14d, end - 7d))."""
    this_week: Dict[str, ArmCounts] = {}
    last_week: Dict[str, ArmCounts] = {}
    for event in events:
        if not end - 2 * WEEK <= event.event_time < end:
            continue
        target = this_week if event.event_time >= end - WEEK else last_week
        one = ArmCounts(1, 0) if event.kind == "impression" else ArmCounts(0, 1)
        target[event.creative_id] = target.get(event.creative_id, ArmCounts()) + one
    return this_week, last_week


def ctr_drops(this_week: Dict[str, ArmCounts], last_week: Dict[str, ArmCounts]) -> List[str]:
    """One line per creative whose click-through this week is below half of last week's."""
    alerts = []
    for creative_id, before in sorted(last_week.items()):
        now = this_week.get(creative_id, ArmCounts())
        if before.impressions < MIN_IMPRESSIONS or before.clicks < MIN_CLICKS or now.impressions < MIN_IMPRESSIONS:
            continue
        old_ctr = min(before.clicks, before.impressions) / before.impressions
        new_ctr = min(now.clicks, now.impressions) / now.impressions
        if new_ctr < DROP * old_ctr:
            alerts.append(f"creative {creative_id} click-through fell from {old_ctr:.2%} to {new_ctr:.2%} "
                          f"against the previous week ({now.impressions} impressions)")
    return alerts


def decision_failures(slot: Optional[SlotConfig], cities: Iterable[str] = (),
                      now: Optional[datetime] = None) -> List[str]:
    """Decisions of the slot fail when no creative is eligible: slot-wide, or in a city that had traffic;
    ``now`` (aware, default: the current time) also checks flights and hours."""
    if slot is None:
        return ["the slot no longer exists: its decisions fail"]
    active = [c for c in slot.creatives if c.active]
    if not active:
        return ["decisions fail: the slot has no active creative"]
    now = now or now_utc()
    if all(c.ends_at is not None and now >= c.ends_at for c in active):
        last = max(c.ends_at for c in active).astimezone(slot.zone)
        return [f"decisions fail: the flight of every active creative has ended (the last on "
                f"{last:%Y-%m-%d %H:%M} {slot.timezone or 'UTC'})"]
    failures, cities = [], sorted(cities)
    for city in cities:
        if not slot.eligible(city):
            failures.append(f"decisions fail in {city}: no creative is eligible there")
        elif not slot.eligible_at(city, now):
            failures.append(f"decisions fail in {city} now: no creative eligible there is inside its flight "
                            f"and hours at {now.astimezone(slot.zone):%H:%M} {slot.timezone or 'UTC'}")
    if not cities and not slot.eligible_at(None, now):
        failures.append(f"decisions fail now: no creative is inside its flight and hours at "
                        f"{now.astimezone(slot.zone):%H:%M} {slot.timezone or 'UTC'}")
    return failures


def failed_delivery(previous_error: Optional[str], previous_due: Optional[datetime]) -> List[str]:
    """The last scheduled run's failure, named once in the next message."""
    if not previous_error:
        return []
    when = f" of {previous_due:%Y-%m-%d %H:%M}" if previous_due else ""
    return [f"the scheduled report{when} could not be delivered: {previous_error}"]
