"""Rebuild the posterior counters (arm_counts) from the event log, the source of truth.

For every slot, Spark reads the events of [since, until), keeps one row per event id (replays and
re-sent events collapse), spreads each over the count rows of its decision (global, its city, its
named segment) and sums impressions and clicks per (segment, creative). Only that small table
reaches the driver, which reads the slot's counters and adds the difference, log - counter, to
each row that disagrees (counters take negative increments too). Afterwards the counters equal the
log, so running the same backfill again finds nothing to change.

The counters hold ALL of a slot's history, so the window must too: --since must reach back to the
slot's first event, or the counts before it are removed (a slot without any event in the window
is left untouched, so a mistyped window cannot zero it). Traffic that arrives while a backfill
runs is counted by the service as usual; an impression or click landing between the log read and
the counter read can leave that one row off by those few events, which the next run repairs.
Referrer counts (referrer_counts) are not rebuilt. For a slot with a half-life the time buckets
(arm_bucket_counts) from the bucket of --since on are rebuilt the same way: every event counts in the
bucket of its decision's time (a click in its impression's bucket), with the slot's current width.
Buckets older than the first one storage keeps (app/storage/bucket_retention.py) are left alone:
no snapshot reads them, and they may have been deleted.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Dict, List, Optional, Tuple

from app.storage.db import Database
from app.jobs.log_frames import events_frame
from app.settings import Settings
from app.storage import CatalogStore, CountDelta, CountsStore
from app.storage.bucket_retention import first_kept
from app.storage.stream_totals import StreamTotalsStore
from bandit.discount import bucket_start, bucket_width_s

SlotKey = Tuple[str, str, str]
STEPS = ("listing slots", "reading the event log", "comparing with the counters", "repairing counters", "done")


@dataclass(frozen=True)
class RowChange:
    """One counter row whose value differs from the event log."""

    slot: SlotKey
    segment: str
    creative_id: str
    counted: Tuple[int, int]  # (impressions, clicks) in arm_counts before the backfill
    logged: Tuple[int, int]  # (impressions, clicks) in the event log
    bucket: Optional[int] = None  # a time bucket row (arm_bucket_counts) of a slot with a half-life

    @property
    def delta(self) -> Tuple[int, int]:
        return self.logged[0] - self.counted[0], self.logged[1] - self.counted[1]


@dataclass
class BackfillResult:
    slots: List[SlotKey]
    events: int = 0
    duplicates: Dict[SlotKey, int] = field(default_factory=dict)  # extra copies of an event id, dropped
    unknown_creative: Dict[SlotKey, int] = field(default_factory=dict)  # events of unconfigured creatives
    changes: List[RowChange] = field(default_factory=list)
    untouched: List[SlotKey] = field(default_factory=list)  # slots without events in the window
    applied: bool = False


def run_backfill(spark, db: Database, settings: Settings, since: datetime, until: datetime,
                 slots: List[SlotKey], dry_run: bool = False,
                 step: Callable[[str], None] = lambda s: None) -> BackfillResult:
    """Compare the counters of ``slots`` (every slot or one tenant's: ``list_slots``) with the event
    log and repair them."""
    step(STEPS[0])
    result = BackfillResult(slots)
    if not slots:
        return result
    step(STEPS[1])
    creatives, widths, kept = _creatives(db, slots, time.time())
    logged, result.events, result.duplicates, result.unknown_creative = _log_counts(
        spark, settings, slots, since, until, creatives, widths)
    step(STEPS[2])
    counts = CountsStore(db)
    for slot in slots:
        if slot not in logged:  # no event in the window: most likely the wrong window, never zero a slot
            result.untouched.append(slot)
            continue
        counted = _read_counters(db, slot)
        if slot in widths:  # bucket rows from the bucket of --since on, none older than the first kept
            first = max(bucket_start(since.timestamp(), widths[slot]), kept[slot])
            counted.update({(segment, cid, bucket): (n, k) for bucket, segment, cid, n, k
                            in counts.read_buckets(*slot, first)})
            logged[slot] = {row: n for row, n in logged[slot].items() if len(row) < 3 or row[2] >= first}
        result.changes += _differences(slot, counted, logged[slot], creatives[slot])
    if result.changes and not dry_run:
        step(STEPS[3])
        _apply(db, counts, result.changes)
        result.applied = True
    step(STEPS[4])
    return result


def _creatives(db: Database, slots: List[SlotKey], now_s: float
               ) -> Tuple[Dict[SlotKey, frozenset], Dict[SlotKey, int], Dict[SlotKey, int]]:
    """({slot: the creative ids configured in it} (events of other creatives are not counted),
    {slot: bucket width in seconds} and {slot: first bucket kept} of the slots with a half-life)."""
    catalog = CatalogStore(db)
    loaded = {slot: catalog.load_slot(*slot) for slot in slots}
    widths = {slot: bucket_width_s(config.half_life_s) for slot, config in loaded.items()
              if config is not None and config.half_life_s}
    kept = {slot: first_kept(loaded[slot], now_s) for slot in widths}
    return {slot: frozenset(c.creative_id for c in (config.creatives if config else ()))
            for slot, config in loaded.items()}, widths, kept


def _log_counts(spark, settings, slots, since, until, creatives, widths=None):
    """({slot: {(segment, creative) or (segment, creative, bucket): (impressions, clicks)}}, events,
    duplicates, unknown), in Spark."""
    from pyspark.sql import functions as F

    events = events_frame(spark, settings, slots, since, until).cache()
    try:
        key = ["tenant", "platform", "slot_id"]
        per_id = events.groupBy(*key, "event_id").count()
        dupes = per_id.filter(F.col("count") > 1).groupBy(*key).agg(F.sum(F.col("count") - 1).alias("n")).collect()
        unique = events.dropDuplicates([*key, "event_id"])
        known = F.lit(False)
        for slot, ids in creatives.items():
            match = (F.col("tenant") == slot[0]) & (F.col("platform") == slot[1]) & (F.col("slot_id") == slot[2])
            known = known | (match & F.col("creative_id").isin(sorted(ids)) if ids else F.lit(False))
        flagged = unique.withColumn("known", known)
        unknown = flagged.filter(~F.col("known")).groupBy(*key).count().collect()
        exploded = flagged.filter(F.col("known")).select(*key, "creative_id", "kind",
                                                         F.explode("segments").alias("segment"))
        sums = exploded.groupBy(*key, "segment", "creative_id").agg(
            F.sum(F.when(F.col("kind") == "impression", 1).otherwise(0)).alias("impressions"),
            F.sum(F.when(F.col("kind") == "click", 1).otherwise(0)).alias("clicks"),
        ).collect()
        bucket_sums = _bucket_sums(_exploded_with_time(flagged, key), key, widths or {})
        total = events.count()
    finally:
        events.unpersist()
    logged: Dict[SlotKey, Dict[tuple, Tuple[int, int]]] = {}
    for r in sums:
        logged.setdefault((r["tenant"], r["platform"], r["slot_id"]), {})[(r["segment"], r["creative_id"])] = (
            int(r["impressions"]), int(r["clicks"]))
    for r in bucket_sums:
        logged.setdefault((r["tenant"], r["platform"], r["slot_id"]), {})[
            (r["segment"], r["creative_id"], int(r["bucket"]))] = (int(r["impressions"]), int(r["clicks"]))
    duplicates = {(r["tenant"], r["platform"], r["slot_id"]): int(r["n"]) for r in dupes}
    unknown_by_slot = {(r["tenant"], r["platform"], r["slot_id"]): int(r["count"]) for r in unknown}
    return logged, total, duplicates, unknown_by_slot


def _exploded_with_time(flagged, key):
    """One row per (event of a configured creative, count row), with the decision's time."""
    from pyspark.sql import functions as F

    return flagged.filter(F.col("known")).select(*key, "creative_id", "kind", "decided_s",
                                                 F.explode("segments").alias("segment"))


def _bucket_sums(exploded, key, widths: Dict[SlotKey, int]) -> list:
    """Impressions and clicks per (slot, bucket, segment, creative) of the slots with a half-life; the
    bucket is floor(decided_s / width) * width with the slot's width."""
    from pyspark.sql import functions as F

    if not widths:
        return []
    width = None
    for slot, seconds in widths.items():
        match = (F.col("tenant") == slot[0]) & (F.col("platform") == slot[1]) & (F.col("slot_id") == slot[2])
        width = F.when(match, F.lit(seconds)) if width is None else width.when(match, F.lit(seconds))
    rows = exploded.withColumn("width", width).filter(F.col("width").isNotNull() & F.col("decided_s").isNotNull())
    rows = rows.withColumn("bucket", (F.floor(F.col("decided_s") / F.col("width")) * F.col("width")).cast("long"))
    return rows.groupBy(*key, "bucket", "segment", "creative_id").agg(
        F.sum(F.when(F.col("kind") == "impression", 1).otherwise(0)).alias("impressions"),
        F.sum(F.when(F.col("kind") == "click", 1).otherwise(0)).alias("clicks"),
    ).collect()


def _read_counters(db: Database, slot: SlotKey) -> Dict[Tuple[str, str], Tuple[int, int]]:
    """What the service counts for a slot: the raw counters (not clamped: a negative value must be
    repaired too) plus the totals the Kafka stream worker applied (app/storage/stream_totals.py). The
    difference to the log goes to the counters, so the sum the service reads equals the log."""
    counted = CountsStore(db).read_raw(*slot)
    for row, totals in StreamTotalsStore(db).arm_totals(*slot).items():
        impressions, clicks = counted.get(row, (0, 0))
        counted[row] = (impressions + totals.impressions, clicks + totals.clicks)
    return counted


def _differences(slot, counted, logged, creative_ids) -> List[RowChange]:
    """Rows of configured creatives where the counters and the log disagree."""
    changes = []
    for row in sorted(set(counted) | set(logged), key=lambda r: (len(r), r)):
        segment, creative_id = row[0], row[1]
        if creative_id not in creative_ids:
            continue
        before = counted.get(row, (0, 0))
        truth = logged.get(row, (0, 0))
        if before != truth:
            changes.append(RowChange(slot, segment, creative_id, before, truth, row[2] if len(row) > 2 else None))
    return changes


def _apply(db: Database, counts: CountsStore, changes: List[RowChange]) -> None:
    """Add each difference once (counter batches within one partition)."""
    deltas = [CountDelta(*c.slot, c.segment, c.creative_id, impressions=c.delta[0], clicks=c.delta[1], bucket=c.bucket)
              for c in changes]
    for batch, _ in counts.batches(deltas):
        db.run(batch)


def format_report(result: BackfillResult, dry_run: bool) -> str:
    """Per slot and segment: what the counters said, what the log says, and the change."""
    lines = [f"read {result.events} events of {len(result.slots)} slots"]
    for slot in result.slots:
        name = "/".join(slot)
        changes = [c for c in result.changes if c.slot == slot]
        notes = []
        if result.duplicates.get(slot):
            notes.append(f"{result.duplicates[slot]} duplicate event ids dropped")
        if result.unknown_creative.get(slot):
            notes.append(f"{result.unknown_creative[slot]} events of unknown creatives skipped")
        if slot in result.untouched:
            lines.append(f"{name}: no events in the window, counters left as they are")
            continue
        lines.append(f"{name}: {len(changes)} rows to repair" + (f" ({'; '.join(notes)})" if notes else ""))
        for c in changes:
            where = c.segment if c.bucket is None else f"{c.segment} @{c.bucket}"
            lines.append(f"  {where:<22} {c.creative_id:<14} impressions {c.counted[0]} -> {c.logged[0]} "
                         f"({c.delta[0]:+d})  clicks {c.counted[1]} -> {c.logged[1]} ({c.delta[1]:+d})")
    total = len(result.changes)
    if dry_run:
        lines.append(f"dry run: {total} rows would change, nothing written")
    else:
        lines.append(f"repaired {total} rows" if total else "counters already equal the event log: nothing changed")
    return "\n".join(lines)
