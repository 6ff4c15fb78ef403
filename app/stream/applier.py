"""Apply a group of stream events to Cassandra with an exactly-once effect.

For each slot: write the events to the event log (deterministic keys, so writing twice is
harmless), then read the slot's stream totals and version, drop events whose id is already
``seen``, add the rest to the totals and write them back in one conditional batch fenced on the
version (see app/storage/stream_totals.py). When another writer moved the version first, the whole
step is repeated on fresh data. Nothing here commits Kafka offsets: the worker commits only after
``apply`` returned, that is after the effect is durable.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Sequence, Tuple

from app.storage import EventStore
from app.storage.stream_totals import BucketRow, Row, SlotTotals, StreamTotalsStore
from app.stream.messages import StreamEvent
from bandit import ArmCounts

GROUP_SIZE = 100  # events per conditional batch: keeps the batch far below Cassandra's size limits
MAX_ATTEMPTS = 50  # conditional batches lost to a competing writer before giving up on this poll


class ApplyConflict(Exception):
    """The slot stayed contended for ``MAX_ATTEMPTS`` rounds; the poll is retried, not committed."""


@dataclass
class ApplyResult:
    applied: int = 0
    duplicates: int = 0

    def add(self, other: "ApplyResult") -> None:
        self.applied += other.applied
        self.duplicates += other.duplicates


class Applier:
    def __init__(self, totals: StreamTotalsStore, events: EventStore):
        self.totals = totals
        self.events = events

    def apply(self, stream_events: Iterable[StreamEvent]) -> ApplyResult:
        """Apply events of any slots, in their order; returns how many counted and how many were duplicates."""
        by_slot: Dict[Tuple[str, str, str], List[StreamEvent]] = {}
        for item in stream_events:
            e = item.event
            by_slot.setdefault((e.tenant, e.platform, e.slot_id), []).append(item)
        result = ApplyResult()
        for slot, items in by_slot.items():
            self._write_event_log(items)
            for start in range(0, len(items), GROUP_SIZE):
                result.add(self._apply_group(slot, items[start : start + GROUP_SIZE]))
        return result

    def _write_event_log(self, items: Sequence[StreamEvent]) -> None:
        futures = [self.events.db.run_async(batch)
                   for batch, _ in self.events.batches([item.event for item in items])]
        for future in futures:
            future.result()

    def _apply_group(self, slot: Tuple[str, str, str], items: Sequence[StreamEvent]) -> ApplyResult:
        for _ in range(MAX_ATTEMPTS):
            current = self.totals.read(*slot)
            seen = self.totals.seen(*slot, (item.event.event_id for item in items))
            fresh = unique_unseen(items, seen)
            if not fresh:
                return ApplyResult(0, len(items))
            arms, referrers = add_events(current, fresh)
            buckets = add_bucket_events(self.totals.bucket_rows(*slot, bucket_rows(fresh)), fresh)
            if self.totals.apply(*slot, current.version, arms, referrers, [i.event.event_id for i in fresh], buckets):
                return ApplyResult(len(fresh), len(items) - len(fresh))
        raise ApplyConflict(f"slot {slot} stayed contended for {MAX_ATTEMPTS} attempts")


def unique_unseen(items: Sequence[StreamEvent], seen: Iterable[str]) -> List[StreamEvent]:
    """The items whose event id is neither in ``seen`` nor earlier in ``items``."""
    skip = set(seen)
    fresh = []
    for item in items:
        if item.event.event_id not in skip:
            skip.add(item.event.event_id)
            fresh.append(item)
    return fresh


def add_events(current: SlotTotals, items: Sequence[StreamEvent]) -> Tuple[Dict[Row, ArmCounts], Dict[Row, ArmCounts]]:
    """The new absolute totals of every row the items touch (only those rows)."""
    arms: Dict[Row, ArmCounts] = {}
    referrers: Dict[Row, ArmCounts] = {}
    for item in items:
        e = item.event
        impressions, clicks = (1, 0) if e.kind == "impression" else (0, 1)
        rows = [(arms, current.arms, (segment, e.creative_id)) for segment in item.segments]
        if e.referrer:
            rows.append((referrers, current.referrers, (e.referrer, e.creative_id)))
        for target, before, row in rows:
            base = target.get(row) or before.get(row) or ArmCounts()
            target[row] = ArmCounts(base.impressions + impressions, base.clicks + clicks)
    return arms, referrers


def bucket_rows(items: Sequence[StreamEvent]) -> List[BucketRow]:
    """The (bucket, segment, creative_id) rows that the items of slots with a half-life touch."""
    return [(item.bucket, segment, item.event.creative_id)
            for item in items if item.bucket is not None for segment in item.segments]


def add_bucket_events(current: Dict[BucketRow, ArmCounts], items: Sequence[StreamEvent]) -> Dict[BucketRow, ArmCounts]:
    """The new absolute totals of every bucket row the items touch. ``current`` is read under the same
    version fence as the other totals, so the conditional batch applies them exactly once too."""
    totals: Dict[BucketRow, ArmCounts] = {}
    for item in items:
        if item.bucket is None:
            continue
        impressions, clicks = (1, 0) if item.event.kind == "impression" else (0, 1)
        for segment in item.segments:
            row = (item.bucket, segment, item.event.creative_id)
            base = totals.get(row) or current.get(row) or ArmCounts()
            totals[row] = ArmCounts(base.impressions + impressions, base.clicks + clicks)
    return totals


__all__ = ["Applier", "ApplyConflict", "ApplyResult", "add_bucket_events", "add_events", "bucket_rows",
           "unique_unseen"]
