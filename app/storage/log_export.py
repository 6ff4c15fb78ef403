"""Reading the event log back for export: every slot, and a slot's events hour by hour."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Dict, Iterator, List

from app.storage.db import Database
from app.storage.catalog import DEFAULT_ATTRIBUTION_WINDOW_S
from app.storage.event_log import EventStore


@dataclass(frozen=True)
class SlotRef:
    tenant: str
    platform: str
    slot_id: str
    attribution_window_s: int



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
        return EventStore(self.db).read_period(slot.tenant, slot.platform, slot.slot_id, start, end)
