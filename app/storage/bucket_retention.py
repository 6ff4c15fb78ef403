"""How long the time buckets of a slot with a half-life are kept, and deleting the older ones.

Counter tables take no TTL, so without deletes the buckets of ``arm_bucket_counts`` (and the bucket
rows of ``stream_counts`` and ``revenue_state``) would pile up for as long as a slot serves. A bucket
can go once nothing reads it and nothing writes it any more:

* Reads. A snapshot reads the last MAX_BUCKETS buckets (``bandit.discount.first_bucket_read``):
  7.5 half-lives. Older evidence weighs less than 0.6 % and is already left out of every posterior.
* Writes. An impression counts in its decision's bucket when it is written; a click in its
  impression's bucket at most the slot's ``attribution_window_s`` after the decision (a later one
  is answered 410 before anything is written); LATE_WRITE_MARGIN_S covers writes already under way
  when the window closes (a click's retry settling its counter batch, impressions a writer held
  while storage was down). A revenue label moves its bucket row for as long as the label changes,
  except a bucket older than the first one kept (app/storage/revenue.py).

So the first bucket kept is ``bandit.discount.first_bucket_kept(now, width, attribution_window_s +
LATE_WRITE_MARGIN_S)`` and everything older is deleted: a counter bucket by its clustering prefix
(one delete per bucket), a bucket row of the fenced tables by its key. Cassandra allows deleting a
counter, but an increment after the delete is undefined; by the rules above none comes, and one
that came anyway (a Kafka stream worker more than a day behind) would land in a bucket no snapshot
reads and go at the next prune. ``slotbandit backfill`` rebuilds no bucket older than the first
kept either. Raising a slot's half-life later does not bring pruned evidence back.

Who deletes: every service process, in a background thread, for the slots it serves, once per
PRUNE_INTERVAL_S each (app/service/bucket_pruner.py); ``slotbandit prune-buckets`` does it for
every slot of the keyspace (or one tenant's) on demand.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from app.storage.bucket_names import bucket_prefix
from app.storage.catalog import SlotConfig
from app.storage.db import Database
from bandit.discount import bucket_width_s, first_bucket_kept

LATE_WRITE_MARGIN_S = 3600
PRUNE_INTERVAL_S = 3600.0
DELETES_IN_FLIGHT = 32

_PK = "tenant = ? AND platform = ? AND slot_id = ?"
FIRST_OLD_BUCKET = f"SELECT bucket FROM arm_bucket_counts WHERE {_PK} AND bucket < ? LIMIT 1"
NEXT_OLD_BUCKET = f"SELECT bucket FROM arm_bucket_counts WHERE {_PK} AND bucket > ? AND bucket < ? LIMIT 1"
DELETE_BUCKET = f"DELETE FROM arm_bucket_counts WHERE {_PK} AND bucket = ?"
OLD_ROWS = {table: f"SELECT name FROM {table} WHERE {_PK} AND kind = 'tb' AND name < ?"
            for table in ("stream_counts", "revenue_state")}
DELETE_ROW = {table: f"DELETE FROM {table} WHERE {_PK} AND kind = 'tb' AND name = ?"
              for table in ("stream_counts", "revenue_state")}


def first_kept(slot: Optional[SlotConfig], now_s: float) -> Optional[int]:
    """The oldest bucket of the slot that storage keeps; None for a slot without a half-life."""
    if slot is None or not slot.half_life_s:
        return None
    late_s = slot.attribution_window_s + LATE_WRITE_MARGIN_S
    return first_bucket_kept(now_s, bucket_width_s(slot.half_life_s), late_s)


@dataclass(frozen=True)
class Pruned:
    """What one prune of a slot deleted: counter buckets, and bucket rows of the fenced tables."""

    counter_buckets: int = 0
    stream_rows: int = 0
    revenue_rows: int = 0

    @property
    def total(self) -> int:
        return self.counter_buckets + self.stream_rows + self.revenue_rows


class BucketRetention:
    def __init__(self, db: Database):
        self.db = db

    def prune(self, tenant: str, platform: str, slot_id: str, first: int) -> Pruned:
        """Delete every bucket of the slot older than ``first`` (see the module docstring)."""
        pk = (tenant, platform, slot_id)
        return Pruned(self._prune_counters(pk, first), self._prune_rows("stream_counts", pk, first),
                      self._prune_rows("revenue_state", pk, first))

    def _prune_counters(self, pk: tuple, first: int) -> int:
        """Walk the old buckets oldest first, one read and one prefix delete each (Cassandra 2.1 has
        no range delete); each read starts after the bucket just deleted, past its tombstone."""
        deleted = 0
        row = self.db.execute(FIRST_OLD_BUCKET, (*pk, first)).one()
        while row is not None:
            bucket = row["bucket"]
            self.db.execute(DELETE_BUCKET, (*pk, bucket))
            deleted += 1
            row = self.db.execute(NEXT_OLD_BUCKET, (*pk, bucket, first)).one()
        return deleted

    def _prune_rows(self, table: str, pk: tuple, first: int) -> int:
        names = [r["name"] for r in self.db.execute(OLD_ROWS[table], (*pk, bucket_prefix(first)))]
        for start in range(0, len(names), DELETES_IN_FLIGHT):
            pending = [self.db.execute_async(DELETE_ROW[table], (*pk, name))
                       for name in names[start:start + DELETES_IN_FLIGHT]]
            for future in pending:
                future.result()
        return len(names)


def prune_slots(db: Database, slots: List[SlotConfig], now_s: float) -> List[tuple]:
    """Prune every slot with a half-life among ``slots``: [(slot, first kept, Pruned)]."""
    retention, done = BucketRetention(db), []
    for slot in slots:
        first = first_kept(slot, now_s)
        if first is not None:
            done.append((slot, first, retention.prune(slot.tenant, slot.platform, slot.slot_id, first)))
    return done
