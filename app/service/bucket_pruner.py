"""Each service process deletes the old time buckets of the half-life slots it serves.

Every snapshot load of a slot (``Runtime``'s posterior cache, in its background thread) notes the
slot's configuration here: a dict write. A daemon thread wakes every CHECK_S and prunes each noted
slot whose last prune is PRUNE_INTERVAL_S old (a slot's first prune comes at the first check after
its first snapshot): it deletes what ``app.storage.bucket_retention`` says no one reads or writes
any more. The deletes never run on a request's thread, nor in the refresh thread that keeps every
slot's posteriors fresh. Several processes pruning the same slot delete the same buckets: harmless.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Dict, Hashable, Optional, Tuple

from app import metrics
from app.storage.bucket_retention import PRUNE_INTERVAL_S, BucketRetention, first_kept
from app.storage.catalog import SlotConfig
from app.storage.db import Database, one_line

log = logging.getLogger(__name__)

CHECK_S = 60.0


class BucketPruner:
    def __init__(self, db: Database, interval_s: float = PRUNE_INTERVAL_S, check_s: float = CHECK_S,
                 clock: Callable[[], float] = time.time):
        self._retention = BucketRetention(db)
        self._interval_s = interval_s
        self._check_s = check_s
        self._clock = clock
        self._slots: Dict[Hashable, Tuple[SlotConfig, float]] = {}  # key -> (configuration, last prune)
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._stopping = threading.Event()

    def note(self, key: Hashable, slot: Optional[SlotConfig]) -> None:
        """Remember a served slot's configuration (cheap; slots without a half-life are skipped)."""
        if slot is None or not slot.half_life_s:
            self._slots.pop(key, None)
            return
        known = self._slots.get(key)
        if known is None or known[0] is not slot:
            self._slots[key] = (slot, known[1] if known else 0.0)
        if self._thread is None:
            self._start()

    def prune_due(self) -> int:
        """Prune every noted slot whose last prune is at least the interval old; rows and buckets deleted."""
        deleted = 0
        for key, (slot, last) in list(self._slots.items()):
            now = self._clock()
            if now - last < self._interval_s:
                continue
            first = first_kept(slot, now)
            if first is None:
                continue
            try:
                pruned = self._retention.prune(slot.tenant, slot.platform, slot.slot_id, first)
            except Exception as error:  # noqa: BLE001 - storage down: try again at the next check
                log.warning("pruning old buckets failed", extra={"slot": str(key), "error": one_line(error)})
                continue
            current = self._slots.get(key)
            if current is not None:  # not forgotten meanwhile (its half-life removed)
                self._slots[key] = (current[0], now)
            metrics.BUCKETS_PRUNED.inc(pruned.total)
            deleted += pruned.total
        return deleted

    def close(self) -> None:
        self._stopping.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="bucket-pruner", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self._check_s):
            self.prune_due()
