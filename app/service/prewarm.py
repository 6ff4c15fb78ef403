"""Propensities computed when a slot's posteriors reload, not by the next request.

Each reload of a slot's snapshot (app.service.fresh_cache.RefreshingCache, in its background thread) makes new
posteriors, and the first decision on them would otherwise run the Monte Carlo behind the
propensities (bandit.policies: 10,000 joint draws) on the request path. ``Prewarmer`` remembers the
lookups decisions made on each slot (the policy, the requested segment, the creatives and their
prices) and repeats them on the new snapshot right after it is read, before the cache serves it, so
requests find the arms computed.

Bounds: at most MAX_LOOKUPS lookups per slot are remembered (a slot with more cities than that warms
the first ones seen and computes the others on demand, as before), and a lookup not used for IDLE_S
is forgotten.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Dict, Hashable, Optional, Sequence, Tuple

from bandit import SlotSnapshot

log = logging.getLogger(__name__)

MAX_LOOKUPS = 256
IDLE_S = 60.0
# (policy, segment asked for, creative ids, prices or None): what choose.decide passed to the policy.
Lookup = Tuple[object, Optional[str], Tuple[str, ...], Optional[Tuple[Tuple[str, float], ...]]]


class Prewarmer:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._used: Dict[Hashable, Dict[Lookup, float]] = {}
        self._lock = threading.Lock()

    def note(self, slot_key: Hashable, policy: object, segment: Optional[str], creative_ids: Sequence[str],
             prices: Optional[Dict[str, float]] = None) -> None:
        """Remember one decision's lookup (cheap: one dict write, on the request path)."""
        lookup = (policy, segment, tuple(creative_ids), None if prices is None else tuple(sorted(prices.items())))
        used = self._used.get(slot_key)
        if used is None:
            with self._lock:
                used = self._used.setdefault(slot_key, {})
        if lookup in used or len(used) < MAX_LOOKUPS:
            used[lookup] = self._clock()

    def warm(self, slot_key: Hashable, snapshot: SlotSnapshot) -> int:
        """Compute the arms of every recent lookup of the slot on a new snapshot; how many were warmed."""
        used = self._used.get(slot_key)
        if not used:
            return 0
        now = self._clock()
        warmed = 0
        for lookup, at in list(used.items()):
            if now - at > IDLE_S:
                used.pop(lookup, None)
                continue
            policy, segment, creative_ids, prices = lookup
            try:
                if prices is None:
                    policy.probabilities(snapshot, segment, creative_ids)
                else:
                    policy.probabilities(snapshot, segment, creative_ids, dict(prices))
                warmed += 1
            except Exception as error:  # the request path computes it (and reports any error) instead
                log.warning("prewarm failed", extra={"slot": str(slot_key), "error": str(error)[:200]})
        return warmed
