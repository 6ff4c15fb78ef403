"""Posterior counts (impressions and clicks per segment and creative) and referrer counts.

Counters are fast but not idempotent: a retried increment may count twice. So the service writes
them as ``MarkedBatch``es: the increments of one slot together with one increment of the batch's
own row in ``count_marks`` (same partition key, so one mutation: applied together or not at all).
When a write's outcome is unknown, ``settle`` reads the mark and applies the batch once more
(mark 0) or takes back the extra (mark 2 or more), so every batch ends up counted exactly once.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from cassandra.query import BatchStatement, BatchType

from app.storage.db import NO_RETRY, Database
from app.storage.stream_totals import StreamTotalsStore
from bandit import ArmCounts

BATCH_ROWS = 50  # rows per batch: well under Cassandra 4's 50 KB batch limit
UPDATE_ARM = (
    "UPDATE arm_counts SET impressions = impressions + ?, clicks = clicks + ? "
    "WHERE tenant = ? AND platform = ? AND slot_id = ? AND segment = ? AND creative_id = ?"
)
UPDATE_BUCKET = (
    "UPDATE arm_bucket_counts SET impressions = impressions + ?, clicks = clicks + ? "
    "WHERE tenant = ? AND platform = ? AND slot_id = ? AND bucket = ? AND segment = ? AND creative_id = ?"
)
SELECT_BUCKETS = (
    "SELECT bucket, segment, creative_id, impressions, clicks FROM arm_bucket_counts "
    "WHERE tenant = ? AND platform = ? AND slot_id = ? AND bucket >= ?"
)
UPDATE_REFERRER = (
    "UPDATE referrer_counts SET impressions = impressions + ?, clicks = clicks + ? "
    "WHERE tenant = ? AND platform = ? AND slot_id = ? AND referrer = ? AND creative_id = ?"
)

UPDATE_MARK = (
    "UPDATE count_marks SET applied = applied + ? WHERE tenant = ? AND platform = ? AND slot_id = ? AND mark = ?"
)
SELECT_MARK = "SELECT applied FROM count_marks WHERE tenant = ? AND platform = ? AND slot_id = ? AND mark = ?"
DELETE_MARK = "DELETE FROM count_marks WHERE tenant = ? AND platform = ? AND slot_id = ? AND mark = ?"


@dataclass(frozen=True)
class CountDelta:
    """An increment of one counter row; ``referrer`` set means a referrer_counts row, ``bucket`` set
    an arm_bucket_counts row (the time bucket of a slot with a half-life, see bandit.discount)."""

    tenant: str
    platform: str
    slot_id: str
    segment: str
    creative_id: str
    impressions: int = 0
    clicks: int = 0
    referrer: Optional[str] = None
    bucket: Optional[int] = None

    @property
    def key(self) -> tuple:
        return (self.tenant, self.platform, self.slot_id, self.segment, self.creative_id, self.referrer, self.bucket)


@dataclass(frozen=True)
class MarkedBatch:
    """The increments of one slot (one partition) and the mark that counts how often they landed."""

    tenant: str
    platform: str
    slot_id: str
    mark: str
    deltas: Tuple[CountDelta, ...]

    @property
    def rows(self) -> int:
        return len(self.deltas)

    @property
    def mark_key(self) -> tuple:
        return (self.tenant, self.platform, self.slot_id, self.mark)


class CountsStore:
    def __init__(self, db: Database):
        self.db = db

    def marked_batches(self, deltas: Iterable[CountDelta], prefix: str = "imp",
                       max_rows: int = BATCH_ROWS) -> List[MarkedBatch]:
        """The deltas as marked batches of at most ``max_rows`` rows, one slot each, with new marks."""
        by_slot: Dict[tuple, List[CountDelta]] = {}
        for delta in deltas:
            by_slot.setdefault((delta.tenant, delta.platform, delta.slot_id), []).append(delta)
        return [MarkedBatch(*slot, f"{prefix}:{uuid.uuid4().hex}", tuple(group[start : start + max_rows]))
                for slot, group in by_slot.items() for start in range(0, len(group), max_rows)]

    def statement(self, batch: MarkedBatch, times: int = 1) -> BatchStatement:
        """One counter batch adding ``times`` x the increments and ``times`` to the mark."""
        statement = BatchStatement(batch_type=BatchType.COUNTER, retry_policy=NO_RETRY)
        for delta in batch.deltas:
            statement.add(self._bind(delta, times))
        statement.add(self.db.prepare(UPDATE_MARK).bind((times,) + batch.mark_key))
        return statement

    def applied(self, batch: MarkedBatch) -> int:
        """How many times the batch has landed (0 when never, or when its mark was deleted)."""
        row = self.db.execute(SELECT_MARK, batch.mark_key).one()
        return int(row["applied"] or 0) if row else 0

    def settle(self, batch: MarkedBatch, timeout: Optional[float] = None) -> int:
        """Make the batch counted exactly once: apply it when it never landed, take back extra
        landings. Returns how many times it had landed. Call it only when no earlier write of the
        batch can still be in flight."""
        landed = self.applied(batch)
        if landed != 1:
            self.db.run(self.statement(batch, 1 - landed), timeout=timeout)
        return landed

    def forget(self, batch: MarkedBatch) -> None:
        """Delete the mark of a settled batch."""
        self.db.execute(DELETE_MARK, batch.mark_key)

    def forget_async(self, batch: MarkedBatch):
        return self.db.execute_async(DELETE_MARK, batch.mark_key)

    def read_slot(self, tenant: str, platform: str, slot_id: str) -> Dict[str, Dict[str, ArmCounts]]:
        """All counts of one slot: {segment: {creative_id: ArmCounts}} (one partition read)."""
        rows = self.db.execute(
            "SELECT segment, creative_id, impressions, clicks FROM arm_counts "
            "WHERE tenant = ? AND platform = ? AND slot_id = ?",
            (tenant, platform, slot_id),
        )
        segments: Dict[str, Dict[str, ArmCounts]] = {}
        for row in rows:
            segments.setdefault(row["segment"], {})[row["creative_id"]] = ArmCounts(
                max(row["impressions"] or 0, 0), max(row["clicks"] or 0, 0)
            )
        return _plus_stream(segments, StreamTotalsStore(self.db).arm_totals(tenant, platform, slot_id))

    def read_buckets(self, tenant: str, platform: str, slot_id: str, since: int) -> List[Tuple[int, str, str, int, int]]:
        """Bucket rows (bucket, segment, creative_id, impressions, clicks) of buckets >= since, counters
        plus what the stream workers applied (one range read of the slot's partition, plus one in Kafka mode)."""
        rows = [(r["bucket"], r["segment"], r["creative_id"], r["impressions"] or 0, r["clicks"] or 0)
                for r in self.db.execute(SELECT_BUCKETS, (tenant, platform, slot_id, since))]
        return rows + StreamTotalsStore(self.db).bucket_totals(tenant, platform, slot_id, since)

    def read_raw(self, tenant: str, platform: str, slot_id: str) -> Dict[Tuple[str, str], Tuple[int, int]]:
        """The counters of one slot as stored, not clamped: {(segment, creative_id): (impressions, clicks)}."""
        rows = self.db.execute(
            "SELECT segment, creative_id, impressions, clicks FROM arm_counts "
            "WHERE tenant = ? AND platform = ? AND slot_id = ?",
            (tenant, platform, slot_id),
        )
        return {(r["segment"], r["creative_id"]): (r["impressions"] or 0, r["clicks"] or 0) for r in rows}

    def read_referrers(self, tenant: str, platform: str, slot_id: str) -> Dict[str, Dict[str, ArmCounts]]:
        """{referrer: {creative_id: ArmCounts}} for one slot."""
        rows = self.db.execute(
            "SELECT referrer, creative_id, impressions, clicks FROM referrer_counts "
            "WHERE tenant = ? AND platform = ? AND slot_id = ?",
            (tenant, platform, slot_id),
        )
        referrers: Dict[str, Dict[str, ArmCounts]] = {}
        for row in rows:
            referrers.setdefault(row["referrer"], {})[row["creative_id"]] = ArmCounts(
                max(row["impressions"] or 0, 0), max(row["clicks"] or 0, 0)
            )
        return _plus_stream(referrers, StreamTotalsStore(self.db).referrer_totals(tenant, platform, slot_id))

    def batches(self, deltas: Iterable[CountDelta], max_rows: int = BATCH_ROWS) -> List[Tuple[BatchStatement, int]]:
        """Counter batches of at most ``max_rows`` increments, each within one partition (one
        mutation for Cassandra), with the number of rows each holds."""
        by_partition: Dict[tuple, List[CountDelta]] = {}
        for delta in deltas:
            partition = (delta.tenant, delta.platform, delta.slot_id, delta.referrer is None)
            by_partition.setdefault(partition, []).append(delta)
        batches = []
        for group in by_partition.values():
            for start in range(0, len(group), max_rows):
                batch = BatchStatement(batch_type=BatchType.COUNTER)
                for delta in group[start : start + max_rows]:
                    batch.add(self._bind(delta))
                batches.append((batch, min(max_rows, len(group) - start)))
        return batches

    def add_together(self, deltas: Iterable[CountDelta]) -> None:
        """Apply several increments in one counter batch (a click: its segments and referrer)."""
        batch = BatchStatement(batch_type=BatchType.COUNTER)
        for delta in deltas:
            batch.add(self._bind(delta))
        self.db.run(batch)

    def _bind(self, delta: CountDelta, times: int = 1):
        if delta.bucket is not None:
            return self.db.prepare(UPDATE_BUCKET).bind((
                delta.impressions * times, delta.clicks * times, delta.tenant, delta.platform, delta.slot_id,
                delta.bucket, delta.segment, delta.creative_id))
        if delta.referrer is None:
            statement, last_key = self.db.prepare(UPDATE_ARM), delta.segment
        else:
            statement, last_key = self.db.prepare(UPDATE_REFERRER), delta.referrer
        return statement.bind((delta.impressions * times, delta.clicks * times, delta.tenant, delta.platform,
                               delta.slot_id, last_key, delta.creative_id))


def _plus_stream(counts: Dict[str, Dict[str, ArmCounts]], stream: Dict[Tuple[str, str], ArmCounts]):
    """Counter values plus what the Kafka stream workers applied (see app/storage/stream_totals.py)."""
    for (first, creative_id), extra in stream.items():
        current = counts.setdefault(first, {}).get(creative_id, ArmCounts())
        counts[first][creative_id] = ArmCounts(current.impressions + extra.impressions, current.clicks + extra.clicks)
    return counts


def merge(deltas: Iterable[CountDelta]) -> List[CountDelta]:
    """Sum deltas that touch the same row, so a flush sends one increment per row (in order of
    each row's first delta). Sums are kept as plain numbers and made into deltas once at the end:
    a flush merges three or four deltas per impression."""
    sums: Dict[tuple, List] = {}
    for delta in deltas:
        row = sums.get(delta.key)
        if row is None:
            sums[delta.key] = [delta, delta.impressions, delta.clicks]
        else:
            row[1] += delta.impressions
            row[2] += delta.clicks
    return [first if (first.impressions, first.clicks) == (impressions, clicks) else
            CountDelta(first.tenant, first.platform, first.slot_id, first.segment, first.creative_id,
                       impressions, clicks, first.referrer, first.bucket)
            for first, impressions, clicks in sums.values()]
