"""Reading the event log back for export: every slot, and a slot's events hour by hour."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Dict, Iterator, List

from app.db import Database
from app.store.catalog import DEFAULT_ATTRIBUTION_WINDOW_S
from app.store.events import hour_bucket

SELECT_HOUR = (
    "SELECT event_time, event_id, kind, decision_id, creative_id, segment, city, customer_id, referrer, policy, "
    "propensity FROM events WHERE tenant = ? AND platform = ? AND slot_id = ? AND hour = ? "
    "AND event_time >= ? AND event_time < ?"
)
CONCURRENT_HOURS = 32  # partitions read at once


@dataclass(frozen=True)
class SlotRef:
    tenant: str
    platform: str
    slot_id: str
    attribution_window_s: int


def hours_between(start: datetime, end: datetime) -> List[str]:
    """The hour buckets ('YYYYMMDDHH', UTC) that [start, end) touches."""
    buckets, moment = [], start.replace(minute=0, second=0, microsecond=0)
    while moment < end:
        buckets.append(hour_bucket(moment))
        moment += timedelta(hours=1)
    return buckets


class DecisionLogStore:
    def __init__(self, db: Database):
        self.db = db

    def slots(self) -> List[SlotRef]:
        """Every configured slot (a full scan of the small slots table), sorted."""
        rows = self.db.execute("SELECT tenant, platform, slot_id, attribution_window_s FROM slots")
        found = [SlotRef(r["tenant"], r["platform"], r["slot_id"],
                         r["attribution_window_s"] if (r["attribution_window_s"] or 0) > 0
                         else DEFAULT_ATTRIBUTION_WINDOW_S) for r in rows]
        return sorted(found, key=lambda s: (s.tenant, s.platform, s.slot_id))

    def events(self, slot: SlotRef, start: datetime, end: datetime) -> Iterator[Dict]:
        """The slot's events with start <= event_time < end, hour partition by hour partition."""
        hours = hours_between(start, end)
        statement = self.db.prepare(SELECT_HOUR)
        for first in range(0, len(hours), CONCURRENT_HOURS):
            futures = [
                self.db.session.execute_async(statement.bind((slot.tenant, slot.platform, slot.slot_id, hour,
                                                                start, end)))
                for hour in hours[first:first + CONCURRENT_HOURS]
            ]
            for future in futures:
                yield from future.result()
