"""Impressions are written off the response path by one background thread per process.

A decision puts its impression (an ``app.storage.impressions.Impression`` record) on a bounded queue and
answers at once. The writer thread wakes every ``flush_interval_s``, takes what accumulated (in
slices of ``batch_size``), makes the impressions into their counter increments, summed per counter
row (app/storage/impressions.py), and their events, and writes one counter batch per slot and one
impression block per slot and hour (a single row holding all those impressions, see
app/storage/event_blocks.py) with bounded ``execute_async`` concurrency. Cassandra shares the
machine's cores with the service in small deployments, and its cost grows with requests and rows,
not bytes: a flush costs it two one-partition writes per slot however many impressions it holds.

What a crash can lose: at most the queue's contents plus the batch being written, that is
``SLOTBANDIT_WRITE_QUEUE`` + ``batch_size`` impressions (10,000 + 1,000 by default); at a steady load
it is about one flush interval of traffic (``SLOTBANDIT_WRITE_INTERVAL_S``, 0.5 s by default, times
the worker's requests/s). A clean stop (SIGTERM) drains the queue first. Clicks never go through this queue: they are written before POST /click answers.

Retries: impression blocks have keys derived from their content, so they are retried until
written. Counter batches are retried when Cassandra proves they were not applied (Unavailable, no
host, not connected). A counter batch whose outcome is unknown (a timeout, a node lost while it
held the request) is settled later by its mark (``CountsStore.settle``): once no write of it can
still be in flight (``SETTLE_S``), it is applied again if it never landed, or taken back once if it
landed twice. So an outage neither loses nor doubles an impression that was queued.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Deque, List, Optional, Tuple


from app import metrics
from app.storage.impressions import Impression, count_deltas
from app.storage import CountsStore, EventStore
from app.storage.counts import MarkedBatch
from app.storage.db import AMBIGUOUS, NOT_APPLIED

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 64
RETRY_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)
# After a counter write of unknown outcome, wait this long before reading its mark: longer than the
# driver's request timeout plus Cassandra's counter write timeout, so no copy of it is still on its way.
SETTLE_S = 15.0


@dataclass
class _Write:
    statement: object
    rows: int
    batch: Optional[MarkedBatch] = None  # counter writes: the batch and its mark

Item = Impression  # anything with kind() and event()


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
        self._doubtful: Deque[Tuple[MarkedBatch, float]] = deque()  # counter writes of unknown outcome
        self._settling = threading.Lock()  # the writer thread and close() never settle one batch twice

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

    @property
    def unsettled(self) -> int:
        """Counter writes of unknown outcome not settled yet (see ``_settle_doubtful``)."""
        return len(self._doubtful)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything queued so far is written; True when it was in time."""
        self._wake.set()
        with self._done:
            return self._done.wait_for(lambda: self._outstanding == 0, timeout=timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        """Drain the queue and stop the thread (used on worker exit)."""
        deadline = time.monotonic() + timeout_s
        self.flush(timeout_s)
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        while self._doubtful and time.monotonic() < deadline:
            self._settle_doubtful(force=time.monotonic() + 1.0 >= deadline)
            if self._doubtful:
                time.sleep(0.5)
        if self._doubtful:
            metrics.IMPRESSIONS_DROPPED.labels("unsettled_at_exit").inc(sum(b.rows for b, _ in self._doubtful))
            log.warning("counter writes of unknown outcome left unsettled at exit",
                        extra={"batches": len(self._doubtful)})

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
            if self._doubtful:
                self._settle_doubtful()

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
        deltas = count_deltas(items)
        events = [item.event() for item in items]
        self._with_retries("event", [_Write(statement, rows) for statement, rows in self._events.blocks(events)])
        batches = self._counts.marked_batches(deltas)
        self._with_retries("counter", [_Write(self._counts.statement(b), b.rows, b) for b in batches])
        metrics.IMPRESSIONS_WRITTEN.inc(len(items))

    def _with_retries(self, what: str, pending: List[_Write]) -> None:
        """Run the writes; retry what provably failed, with back-off."""
        for attempt in range(len(RETRY_BACKOFF_S) + 1):
            failed = []
            for chunk_start in range(0, len(pending), MAX_IN_FLIGHT):
                failed.extend(self._run_chunk(pending[chunk_start : chunk_start + MAX_IN_FLIGHT]))
            if not failed:
                return
            pending = failed
            if attempt < len(RETRY_BACKOFF_S):
                time.sleep(RETRY_BACKOFF_S[attempt])
        # Storage stayed down through every retry: keep waiting rather than lose writes, unless stopping.
        while pending and not self._stopping.is_set():
            log.warning("storage down, holding writes", extra={"kind": what, "pending": len(pending)})
            metrics.WRITER_HOLDING.inc()
            time.sleep(RETRY_BACKOFF_S[-1])
            pending = self._run_chunk(pending)
        if pending:
            metrics.IMPRESSIONS_DROPPED.labels("shutdown").inc(sum(write.rows for write in pending))

    def _run_chunk(self, chunk: List[_Write]) -> List[_Write]:
        """Start the chunk's writes together; the ones that provably did not happen, to retry.

        A block whose outcome is unknown is written again (its key is its content); a counter batch
        whose outcome is unknown is left to ``_settle_doubtful``; a settled batch's mark is deleted.
        """
        failed, futures = [], []
        for write in chunk:
            try:
                futures.append((write, self._counts.db.run_async(write.statement)))
            except NOT_APPLIED:
                failed.append(write)
        for write, future in futures:
            try:
                future.result()
            except NOT_APPLIED:
                failed.append(write)
            except AMBIGUOUS:
                if write.batch is None:
                    failed.append(write)
                else:
                    metrics.COUNTER_WRITES_AMBIGUOUS.labels("impressions").inc()
                    self._doubtful.append((write.batch, time.monotonic()))
            else:
                if write.batch is not None:
                    self._forget(write.batch)
        return failed

    def _forget(self, batch: MarkedBatch) -> None:
        try:
            self._counts.forget_async(batch)  # best effort: an orphan mark is a few bytes, never read
        except Exception:  # noqa: BLE001
            pass

    def _settle_doubtful(self, force: bool = False) -> None:
        """Settle the counter writes of unknown outcome that can no longer be in flight."""
        with self._settling:
            now = time.monotonic()
            while self._doubtful and (force or now - self._doubtful[0][1] >= SETTLE_S):
                batch, since = self._doubtful[0]
                try:
                    landed = self._counts.settle(batch)
                except Exception as error:  # noqa: BLE001 - storage still down, or the settling write's own
                    # outcome unknown: wait SETTLE_S again before reading the mark
                    self._doubtful[0] = (batch, time.monotonic())
                    log.warning("cannot settle a counter write yet", extra={"error": str(error)[:200]})
                    return
                self._doubtful.popleft()
                metrics.COUNTER_WRITES_SETTLED.labels("impressions", _outcome(landed)).inc()
                self._forget(batch)


def _outcome(landed: int) -> str:
    """How a write of unknown outcome had turned out: landed once, never (applied now) or more."""
    return {0: "reapplied", 1: "landed"}.get(landed, "taken_back")
