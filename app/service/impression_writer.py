"""Impressions are written off the response path by one background thread per process.

A decision puts its impression (an ``app.storage.impressions.Impression`` record) on a bounded queue and
answers at once. The writer thread wakes every ``flush_interval_s``, takes what accumulated (in
slices of ``batch_size``), makes each impression into its counter increments and event, sums
increments that touch the same counter row, and writes one counter batch per slot and one
impression block per slot and hour (a single row holding all those impressions, see
app/storage/event_blocks.py) with bounded ``execute_async`` concurrency. Cassandra shares the
machine's cores with the service in small deployments, and its cost grows with requests and rows,
not bytes: a flush costs it two one-partition writes per slot however many impressions it holds.

What a crash can lose: at most the queue's contents plus the batch being written, that is
``SLOTBANDIT_WRITE_QUEUE`` + ``batch_size`` impressions (10,000 + 1,000 by default); at a steady load
it is about one flush interval of traffic (``SLOTBANDIT_WRITE_INTERVAL_S``, 0.5 s by default, times
the worker's requests/s). A clean stop (SIGTERM) drains the queue first. Clicks never go through this queue: they are written before POST /click answers.

Retries: impression blocks have keys derived from their content, so they are retried until
written. Counter batches are retried only when Cassandra proves they were not applied (Unavailable, no host, not
connected); a timed-out counter batch may or may not have counted, so its rows are counted as
dropped rather than risk counting twice.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Deque, List, Optional, Tuple


from app import metrics
from app.storage.impressions import Impression
from app.storage import CountsStore, EventStore
from app.storage.counts import merge
from app.storage.db import AMBIGUOUS, NOT_APPLIED

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 64
RETRY_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)

Item = Impression  # anything with deltas() and event()


class ImpressionWriter:
    """A bounded buffer of impressions and the thread that writes them.

    ``submit`` only appends to a deque under a lock: it never wakes the writer thread. The
    writer sleeps ``flush_interval_s``, then takes what accumulated, in slices of at most
    ``batch_size``. Waking the writer for every impression (as a ``queue.Queue`` with a blocked
    ``get`` does) costs a thread switch per request, which under load is more than the write.
    """

    def __init__(
        self,
        counts: CountsStore,
        events: EventStore,
        queue_size: int = 10_000,
        flush_interval_s: float = 0.5,
        batch_size: int = 1_000,
    ):
        self._counts = counts
        self._events = events
        self._pending: Deque[Item] = deque()
        self._queue_size = queue_size
        self._flush_interval_s = flush_interval_s
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._stopping = threading.Event()
        self._wake = threading.Event()  # set by flush() and close(): write now, do not wait
        self._outstanding = 0  # queued or being written
        self._done = threading.Condition(self._lock)

    def submit(self, impression: Impression) -> bool:
        """Queue one impression; False (and counted as dropped) when the queue is full."""
        if self._thread is None or not self._thread.is_alive():
            self._ensure_thread()
        with self._lock:
            if len(self._pending) >= self._queue_size:
                full = True
            else:
                full = False
                self._pending.append(impression)
                self._outstanding += 1
        if full:
            metrics.IMPRESSIONS_DROPPED.labels("queue_full").inc()
            return False
        metrics.WRITE_QUEUE.inc()
        return True

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything queued so far is written; True when it was in time."""
        self._wake.set()
        with self._done:
            return self._done.wait_for(lambda: self._outstanding == 0, timeout=timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        """Drain the queue and stop the thread (used on worker exit)."""
        self.flush(timeout_s)
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="impression-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        """One flush per interval: what was queued when the flush began, in slices of ``batch_size``.

        Impressions that arrive while a flush is being written wait for the next one. Draining
        "until empty" instead never sleeps under load (requests keep the queue non-empty), and turns
        the interval into one small write per Cassandra round trip: measured, 66 flushes a second
        per worker instead of 2, each costing Cassandra about as much as a large one.
        """
        next_flush = time.monotonic() + self._flush_interval_s
        while not self._stopping.is_set():
            self._wake.wait(max(0.0, next_flush - time.monotonic()))
            self._wake.clear()
            next_flush = time.monotonic() + self._flush_interval_s
            with self._lock:
                due = len(self._pending)
            while due > 0:
                items = self._take(min(due, self._batch_size))  # only this thread takes: never empty
                due -= len(items)
                self._write_counted(items)

    def _take(self, count: int) -> List[Item]:
        """Up to ``count`` impressions, oldest first."""
        with self._lock:
            count = min(len(self._pending), count)
            return [self._pending.popleft() for _ in range(count)]

    def _write_counted(self, items: List[Item]) -> None:
        try:
            self._write(items)
        except Exception:  # never let the writer die; what failed is logged and counted
            log.exception("impression writer failed a batch")
        finally:
            metrics.WRITE_QUEUE.dec(len(items))
            with self._done:
                self._outstanding -= len(items)
                self._done.notify_all()

    def _write(self, items: List[Item]) -> None:
        deltas = merge(delta for item in items for delta in item.deltas())
        events = [item.event() for item in items]
        self._with_retries("event", self._events.blocks(events), retry_ambiguous=True)
        self._with_retries("counter", self._counts.batches(deltas), retry_ambiguous=False)
        metrics.IMPRESSIONS_WRITTEN.inc(len(items))

    def _with_retries(self, what: str, pending: List[Tuple[object, int]], retry_ambiguous: bool) -> None:
        """Run (statement, rows) pairs; retry what provably failed, with back-off."""
        for attempt in range(len(RETRY_BACKOFF_S) + 1):
            failed = []
            for chunk_start in range(0, len(pending), MAX_IN_FLIGHT):
                chunk = pending[chunk_start : chunk_start + MAX_IN_FLIGHT]
                failed.extend(self._run_chunk(chunk, retry_ambiguous))
            if not failed:
                return
            pending = failed
            if attempt < len(RETRY_BACKOFF_S):
                time.sleep(RETRY_BACKOFF_S[attempt])
        # Storage stayed down through every retry: keep waiting rather than lose writes, unless stopping.
        while pending and not self._stopping.is_set():
            log.warning("storage down, holding writes", extra={"kind": what, "pending": len(pending)})
            time.sleep(RETRY_BACKOFF_S[-1])
            pending = self._run_chunk(pending, retry_ambiguous)
        if pending:
            metrics.IMPRESSIONS_DROPPED.labels("shutdown").inc(sum(rows for _, rows in pending))

    def _run_chunk(self, chunk: List[Tuple[object, int]], retry_ambiguous: bool) -> list:
        failed, futures = [], []
        for item in chunk:
            try:
                futures.append((item, self._counts.db.run_async(item[0])))
            except NOT_APPLIED:
                failed.append(item)
        for item, future in futures:
            try:
                future.result()
            except NOT_APPLIED:
                failed.append(item)
            except AMBIGUOUS:
                if retry_ambiguous:
                    failed.append(item)
                else:
                    metrics.IMPRESSIONS_DROPPED.labels("ambiguous_timeout").inc(item[1])
        return failed
