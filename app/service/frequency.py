"""Frequency caps on the decision path: which creatives a customer may still see, and taking one.

Only slots with ``frequency_cap`` and requests with a ``customer_id`` come here; any other decision
reads and writes nothing more. A capped decision costs one partition read (``FrequencyCounts.read``)
and one lightweight transaction (``claim``) for the creative chosen.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Dict, FrozenSet, Optional

from app.storage.catalog import SlotConfig
from app.storage.frequency import TTL_MARGIN_S, FrequencyStore, window_start


@dataclass
class FrequencyCounts:
    """One customer's impressions per creative in the current window of a capped slot."""

    store: FrequencyStore
    slot: SlotConfig
    customer_id: str
    start: datetime
    ttl_s: int
    by_creative: Dict[str, int] = field(default_factory=dict)

    @classmethod
    def read(cls, store: FrequencyStore, slot: SlotConfig, customer_id: Optional[str],
             now: datetime) -> Optional["FrequencyCounts"]:
        """The customer's counts, or None when the slot has no cap or the request no customer."""
        if slot.frequency_cap is None or not customer_id:
            return None
        start = window_start(now, slot.frequency_window_s)
        end = start + timedelta(seconds=slot.frequency_window_s)
        ttl_s = int((end - now).total_seconds()) + TTL_MARGIN_S
        counts = store.counts(slot.tenant, slot.platform, slot.slot_id, customer_id, start)
        return cls(store, slot, customer_id, start, ttl_s, counts)

    def capped(self) -> FrozenSet[str]:
        """The creatives the customer has seen ``frequency_cap`` times in this window."""
        cap = self.slot.frequency_cap
        return frozenset(cid for cid, n in self.by_creative.items() if n >= cap)

    def claim(self, creative_id: str) -> bool:
        """Take the customer's next impression of ``creative_id``; False (and the creative counted as
        capped) when the cap is reached, also when concurrent requests took the last ones first."""
        cap = self.slot.frequency_cap
        n = self.by_creative.get(creative_id, 0)
        while n < cap:
            if self.store.claim(self.slot.tenant, self.slot.platform, self.slot.slot_id, self.customer_id,
                                self.start, creative_id, n, self.ttl_s):
                self.by_creative[creative_id] = n + 1
                return True
            n += 1
        self.by_creative[creative_id] = cap
        return False
