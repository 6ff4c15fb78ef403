"""Posterior counts (impressions and clicks per segment and creative) and referrer counts.

Counters are fast but not idempotent: a retried increment may count twice. So increments are
only ever retried when the driver proves they were not applied, and clicks reach this module only
after their decision was claimed exactly once (see ``EventStore.claim_click``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from cassandra.query import BatchStatement, BatchType

from app.storage.db import Database
from app.storage.stream_totals import StreamTotalsStore
from bandit import ArmCounts

BATCH_ROWS = 50  # rows per batch: well under Cassandra 4's 50 KB batch limit
UPDATE_ARM = (
    "UPDATE arm_counts SET impressions = impressions + ?, clicks = clicks + ? "
    "WHERE tenant = ? AND platform = ? AND slot_id = ? AND segment = ? AND creative_id = ?"
)
UPDATE_REFERRER = (
    "UPDATE referrer_counts SET impressions = impressions + ?, clicks = clicks + ? "
    "WHERE tenant = ? AND platform = ? AND slot_id = ? AND referrer = ? AND creative_id = ?"
)


@dataclass(frozen=True)
class CountDelta:
    """An increment of one counter row; ``referrer`` set means a referrer_counts row."""

    tenant: str
    platform: str
    slot_id: str
    segment: str
    creative_id: str
    impressions: int = 0
    clicks: int = 0
    referrer: Optional[str] = None

    @property
    def key(self) -> tuple:
        return (self.tenant, self.platform, self.slot_id, self.segment, self.creative_id, self.referrer)


class CountsStore:
    def __init__(self, db: Database):
        self.db = db

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

    def _bind(self, delta: CountDelta):
        if delta.referrer is None:
            statement, last_key = self.db.prepare(UPDATE_ARM), delta.segment
        else:
            statement, last_key = self.db.prepare(UPDATE_REFERRER), delta.referrer
        return statement.bind(
            (delta.impressions, delta.clicks, delta.tenant, delta.platform, delta.slot_id, last_key, delta.creative_id)
        )


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
                       impressions, clicks, first.referrer)
            for first, impressions, clicks in sums.values()]
