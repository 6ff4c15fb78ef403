"""Frequency caps on the decision path: which creatives a customer may still see, and taking one.

Only slots with ``frequency_cap`` and requests with a ``customer_id`` come here; any other decision
reads and writes nothing more.

The protocol (``FrequencyCounts.claim``), with plain Cassandra writes and reads:

1. choose a creative among those the customer is *assumed* not to have reached the cap of;
2. write a mark for it (``frequency_marks``), wait for the acknowledgement;
3. read the customer's partition: the marks of every creative, written by any worker or instance;
4. show the creative if what was read leaves every creative it was chosen among below the cap (so the
   chosen one has at most ``frequency_cap`` marks, this one included); else withdraw the mark, take
   the creatives found at the cap as capped too and choose again among the others.

No customer sees a creative more than the cap: take cap + 1 decisions that kept their marks and the
one whose read started last; every other one had written its mark before its own read started, so
before this read, which therefore saw cap + 1 marks and could not have kept its own. Concurrent
decisions can only make each other more careful (a mark being withdrawn still counts for a moment).
A decision ends: each new choice is among fewer creatives, and none left is ``frequency_capped``.

What is assumed capped comes from ``CapHints``: what this process found at the cap for the customer
last time, or nothing. When that is right, which is the usual case, a capped decision costs two round
trips (the write, then the read); when it is not, the read corrects it and the decision is made
again (two more). The propensity logged is the policy's probability over the
creatives the final choice was made among, none of which the counts read found capped
(``app.service.choose.decide``).
"""
from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Dict, FrozenSet, List, Optional, Set, Tuple

from app.storage.catalog import SlotConfig
from app.storage.frequency import TTL_MARGIN_S, FrequencyStore, window_start

HINTS = 50_000  # customers at a cap remembered per process (a few hundred bytes each)


class CapHints:
    """Per (slot, customer, window): the creatives found at the cap by this process's last read, for the
    customers that have any, in a bounded LRU (the customer least recently decided for is forgotten
    first). Only a guess: a decision checks it against Cassandra before it shows anything."""

    def __init__(self, size: int = HINTS):
        self.size = size
        self._lock = threading.Lock()
        self._capped: "OrderedDict[Tuple, FrozenSet[str]]" = OrderedDict()

    def get(self, key: Tuple) -> FrozenSet[str]:
        with self._lock:
            capped = self._capped.get(key)
            if capped is None:
                return frozenset()
            self._capped.move_to_end(key)
            return capped

    def put(self, key: Tuple, capped: FrozenSet[str]) -> None:
        with self._lock:
            if not capped:
                self._capped.pop(key, None)
                return
            self._capped[key] = capped
            self._capped.move_to_end(key)
            while len(self._capped) > self.size:
                self._capped.popitem(last=False)


@dataclass
class FrequencyCounts:
    """One customer's impressions per creative in the current window of a capped slot."""

    store: FrequencyStore
    hints: CapHints
    slot: SlotConfig
    customer_id: str
    start: datetime
    ttl_s: int
    by_creative: Dict[str, int] = field(default_factory=dict)  # others' marks, as read by this request
    excluded: Set[str] = field(default_factory=set)  # taken as capped in this request (it only grows)
    read: bool = False  # a partition read of this request has set by_creative (else: the hints only)
    withdrawn: Set[uuid.UUID] = field(default_factory=set)

    @classmethod
    def begin(cls, store: FrequencyStore, hints: CapHints, slot: SlotConfig, customer_id: Optional[str],
              now: datetime) -> Optional["FrequencyCounts"]:
        """The customer's assumed counts, or None when the slot has no cap or the request no customer."""
        if slot.frequency_cap is None or not customer_id:
            return None
        start = window_start(now, slot.frequency_window_s)
        end = start + timedelta(seconds=slot.frequency_window_s)
        ttl_s = int((end - now).total_seconds()) + TTL_MARGIN_S
        counts = cls(store, hints, slot, customer_id, start, ttl_s)
        counts.excluded = set(hints.get(counts._key()))
        return counts

    def capped(self) -> FrozenSet[str]:
        """The creatives this decision takes as capped: at the cap by the counts known, or seen so."""
        return frozenset(self.excluded)

    def refresh(self) -> None:
        """Replace what the hints said by the stored counts (one partition read)."""
        self._apply(self._read(), None)
        self.excluded = set(self._at_cap())

    def claim(self, creative_id: str, candidates: FrozenSet[str]) -> bool:
        """Take the customer's next impression of ``creative_id``, chosen among ``candidates`` (the
        creatives not in ``capped()``). True when it may be shown: the counts read leave every candidate
        below the cap, the chosen one included. Else False: the mark is withdrawn and the candidates
        found at the cap join ``capped()`` (choose again among fewer)."""
        mark = uuid.uuid1()
        s = self.slot
        self.store.mark(s.tenant, s.platform, s.slot_id, self.customer_id, self.start, creative_id, mark, self.ttl_s)
        self._apply(self._read(), mark)
        newly_capped = self._at_cap() & candidates
        if not newly_capped:  # at most cap - 1 others of the chosen one: at most cap with this one
            self.by_creative[creative_id] = self.by_creative.get(creative_id, 0) + 1
            self.hints.put(self._key(), self._at_cap())
            return True
        self.excluded |= newly_capped
        self.withdrawn.add(mark)
        self.store.withdraw(s.tenant, s.platform, s.slot_id, self.customer_id, self.start, creative_id, mark)
        return False

    def _at_cap(self) -> FrozenSet[str]:
        cap = self.slot.frequency_cap
        return frozenset(cid for cid, n in self.by_creative.items() if n >= cap)

    def _read(self) -> Dict[str, List[uuid.UUID]]:
        s = self.slot
        return self.store.marks(s.tenant, s.platform, s.slot_id, self.customer_id, self.start)

    def _apply(self, marks: Dict[str, List[uuid.UUID]], own: Optional[uuid.UUID]) -> None:
        """Counts from the marks read, leaving out this request's own (the new one and those withdrawn)."""
        mine = self.withdrawn | ({own} if own else set())
        counts = {cid: sum(1 for m in ms if m not in mine) for cid, ms in marks.items()}
        self.by_creative = {cid: n for cid, n in counts.items() if n}
        self.read = True
        self.hints.put(self._key(), self._at_cap())

    def _key(self) -> Tuple:
        s = self.slot
        return s.tenant, s.platform, s.slot_id, self.customer_id, self.start
