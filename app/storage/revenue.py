"""Storage of the revenue objective: customers' clicks, decisions' labels and their sums per arm.

Labels change as purchases, repeats and refunds arrive, so the sums per (segment, creative) are kept
as absolute values, never as counters: each change is written as ONE conditional batch on the slot's
``revenue_state`` partition (the pattern of app/storage/stream_totals.py):

    UPDATE ... SET version = v + 1 ... IF version = v            (the fence)
    UPDATE label rows of the changed decisions (absolute values)
    UPDATE total rows: old total + (new label - old label)

Either all of it is applied or none, and a writer that read an older version retries from fresh
reads, so two recomputations racing on one slot can neither lose nor double a change.

A slot with a half-life also keeps the sums per time bucket (bandit.discount): a label remembers
the bucket of its decision's time (``bucket``), and the same batch moves the bucket rows (kind 'tb',
app/storage/bucket_names.py) of that bucket by the label's change, so the discounted totals are as
exact as the others. A label moved to another bucket (the half-life changed) leaves its old bucket
and joins its new one. Buckets older than the first one kept (``first_kept``, see
app/storage/bucket_retention.py) are no longer moved: nothing reads them, and pruning deletes them.
"""
from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from cassandra import ConsistencyLevel

from app.storage.bucket_names import BUCKET_KIND, BucketRow, bucket_name, bucket_prefix, bucket_row
from app.storage.db import Database
from app.storage.fence import fenced_batch
from app.errors import StorageUnavailable

FIELDS = ("purchases", "refunds", "gross", "gross_sq", "refunded")
Arm = Tuple[str, str]  # (segment, creative_id)
Values = Tuple[float, float, float, float, float]  # in the order of FIELDS
ZERO: Values = (0.0, 0.0, 0.0, 0.0, 0.0)

_PK = " WHERE tenant = ? AND platform = ? AND slot_id = ?"
READ_FENCE = "SELECT version FROM revenue_state" + _PK + " AND kind = 'fence' AND name = ''"
READ_LABELS = ("SELECT name, purchases, refunds, gross, gross_sq, refunded, final, bucket FROM revenue_state" + _PK
               + " AND kind = 'label' AND name IN ?")
READ_TOTALS = ("SELECT name, purchases, refunds, gross, gross_sq, refunded FROM revenue_state" + _PK
               + " AND kind = 'total'")
SET_LABEL = ("UPDATE revenue_state USING TTL ? SET creative_id = ?, segments = ?, purchases = ?, refunds = ?, "
             "gross = ?, gross_sq = ?, refunded = ?, final = ?, bucket = ?" + _PK + " AND kind = 'label' AND name = ?")
SET_TOTAL = ("UPDATE revenue_state SET purchases = ?, refunds = ?, gross = ?, gross_sq = ?, refunded = ?"
             + _PK + " AND kind = ? AND name = ?")
READ_BUCKET_ROWS = ("SELECT name, purchases, refunds, gross, gross_sq, refunded FROM revenue_state" + _PK
                    + " AND kind = 'tb' AND name IN ?")
READ_BUCKETS_SINCE = ("SELECT name, purchases, refunds, gross, gross_sq, refunded FROM revenue_state" + _PK
                      + " AND kind = 'tb' AND name >= ?")
RECORD_CLICK = ("INSERT INTO customer_clicks (tenant, customer_id, decision, decision_id, clicked_at) "
                "VALUES (?, ?, ?, ?, ?) USING TTL ?")
READ_CLICKS = "SELECT decision, decision_id, clicked_at FROM customer_clicks WHERE tenant = ? AND customer_id = ?"
# Which of some customers have a click (a partition): one row per partition found. A partition whose
# clicks all expired may still be listed; relabelling such a customer finds no click and changes nothing.
WITH_CLICKS = "SELECT DISTINCT tenant, customer_id FROM customer_clicks WHERE tenant = ? AND customer_id IN ?"
CLICK_READ_IDS = 100


@dataclass(frozen=True)
class LabelWrite:
    """The new label of one decision of a slot, and where it counts."""

    decision: str
    creative_id: str
    segments: Tuple[str, ...]
    values: Values
    final: bool
    ttl_s: int
    bucket: Optional[int] = None  # the time bucket of the decision, for a slot with a half-life


Stored = Tuple[Values, bool, Optional[int]]  # a label as stored: values, final, bucket
NONE_STORED: Stored = (ZERO, False, None)


@dataclass(frozen=True)
class StoredClick:
    decision: str
    decision_id: str
    clicked_at: datetime


class RevenueStore:
    def __init__(self, db: Database):
        self.db = db

    # --- customers' clicks -------------------------------------------------------------------

    def record_click(self, tenant: str, customer_id: str, decision: str, decision_id: str,
                     clicked_at: datetime, ttl_s: int) -> None:
        self.db.execute(RECORD_CLICK, (tenant, customer_id, decision, decision_id, clicked_at, ttl_s))

    def with_clicks(self, tenant: str, customer_ids: Iterable[str]) -> List[str]:
        """Those of the customers who have a stored click (a concurrent read per CLICK_READ_IDS
        customers: a load of history asks about thousands of payers)."""
        from cassandra.concurrent import execute_concurrent

        ids = sorted(set(customer_ids))
        statement = self.db.prepare(WITH_CLICKS)
        statement.consistency_level = ConsistencyLevel.QUORUM
        groups = [ids[i:i + CLICK_READ_IDS] for i in range(0, len(ids), CLICK_READ_IDS)]
        found = set()
        for success, rows in execute_concurrent(self.db.session, [(statement, (tenant, group)) for group in groups],
                                                concurrency=64, raise_on_first_error=False):
            if not success:
                raise rows
            found.update(row["customer_id"] for row in rows)
        return [customer_id for customer_id in ids if customer_id in found]

    def clicks_of(self, tenant: str, customer_id: str) -> List[StoredClick]:
        rows = self.db.execute(READ_CLICKS, (tenant, customer_id), consistency=ConsistencyLevel.QUORUM)
        return [StoredClick(r["decision"], r["decision_id"], r["clicked_at"]) for r in rows]

    # --- labels and totals ---------------------------------------------------------------------

    def totals(self, tenant: str, platform: str, slot_id: str) -> Dict[Arm, Values]:
        """{(segment, creative_id): summed label values} of a slot (empty before any purchase)."""
        rows = self.db.execute(READ_TOTALS, (tenant, platform, slot_id))
        return {_arm(r["name"]): _values(r) for r in rows}

    def bucket_totals(self, tenant: str, platform: str, slot_id: str,
                      since: int) -> List[Tuple[int, str, str, float, float, float, float]]:
        """(bucket, segment, creative_id, purchases, refunds, gross, gross_sq) of the slot's buckets
        >= since (one range read; empty for a slot without a half-life)."""
        rows = self.db.execute(READ_BUCKETS_SINCE, (tenant, platform, slot_id, bucket_prefix(since)))
        return [(*bucket_row(r["name"]), *_values(r)[:4]) for r in rows]

    def apply(self, tenant: str, platform: str, slot_id: str, writes: Sequence[LabelWrite],
              attempts: int = 20, first_kept: Optional[int] = None) -> int:
        """Store new labels and move the totals by their change; return how many labels changed.

        Reads the fence, the old labels and the totals, writes one conditional batch, and starts
        again from fresh reads when another writer moved the fence in between. Bucket rows older
        than ``first_kept`` are left as they are (see the module docstring).
        """
        pk = (tenant, platform, slot_id)
        for attempt in range(attempts):
            if attempt:  # another writer won the fence: back off a little, randomly, before re-reading
                time.sleep(random.uniform(0, 0.005 * attempt))
            version = self._version(pk)
            old = self._labels(pk, [w.decision for w in writes])
            changed = [w for w in writes if old.get(w.decision, NONE_STORED) != (w.values, w.final, w.bucket)]
            if not changed:
                return 0
            totals = self._moved_totals(pk, old, changed)
            buckets = self._moved_buckets(pk, old, changed, first_kept)
            if self._commit(pk, version, changed, totals, buckets):
                return len(changed)
        raise StorageUnavailable(f"the revenue state of slot {slot_id!r} kept changing; retry later",
                                 "revenue_state_busy")

    def _version(self, pk: tuple) -> Optional[int]:
        row = self.db.execute(READ_FENCE, pk, consistency=ConsistencyLevel.SERIAL).one()
        return None if row is None else row["version"]

    def _labels(self, pk: tuple, decisions: Iterable[str]) -> Dict[str, Stored]:
        names = sorted(set(decisions))
        rows = self.db.execute(READ_LABELS, (*pk, names), consistency=ConsistencyLevel.QUORUM)
        return {r["name"]: (_values(r), bool(r["final"]), r["bucket"]) for r in rows}

    def _moved_totals(self, pk: tuple, old: Mapping[str, Stored],
                      changed: Sequence[LabelWrite]) -> Dict[Arm, Values]:
        """The total rows the changed labels touch, each moved by (new - old)."""
        rows = self.db.execute(READ_TOTALS, pk, consistency=ConsistencyLevel.QUORUM)
        current = {_arm(r["name"]): _values(r) for r in rows}
        moved: Dict[Arm, Values] = {}
        for write in changed:
            before = old.get(write.decision, NONE_STORED)[0]
            delta = [new - was for new, was in zip(write.values, before)]
            for segment in write.segments:
                arm = (segment, write.creative_id)
                base = moved.get(arm, current.get(arm, ZERO))
                moved[arm] = tuple(b + d for b, d in zip(base, delta))  # type: ignore[assignment]
        return moved

    def _moved_buckets(self, pk: tuple, old: Mapping[str, Stored], changed: Sequence[LabelWrite],
                       first_kept: Optional[int]) -> Dict[BucketRow, Values]:
        """The bucket rows the changed labels touch: each label's old values leave the bucket it was
        stored with, its new values join its new bucket (rows older than first_kept untouched)."""
        moves: List[Tuple[BucketRow, Values, float]] = []
        for write in changed:
            before, _, old_bucket = old.get(write.decision, NONE_STORED)
            for bucket, values, sign in ((old_bucket, before, -1.0), (write.bucket, write.values, 1.0)):
                if bucket is None or (first_kept is not None and bucket < first_kept):
                    continue
                moves += [((bucket, segment, write.creative_id), values, sign) for segment in write.segments]
        if not moves:
            return {}
        names = sorted({bucket_name(row) for row, _, _ in moves})
        rows = self.db.execute(READ_BUCKET_ROWS, (*pk, names), consistency=ConsistencyLevel.QUORUM)
        moved: Dict[BucketRow, Values] = {bucket_row(r["name"]): _values(r) for r in rows}
        for row, values, sign in moves:
            base = moved.get(row, ZERO)
            moved[row] = tuple(b + sign * v for b, v in zip(base, values))  # type: ignore[assignment]
        return moved

    def _commit(self, pk: tuple, version: Optional[int], changed: Sequence[LabelWrite],
                totals: Mapping[Arm, Values], buckets: Mapping[BucketRow, Values]) -> bool:
        batch = fenced_batch(self.db, "revenue_state", pk, version)
        set_label = self.db.prepare(SET_LABEL)
        for w in changed:
            batch.add(set_label.bind((w.ttl_s, w.creative_id, json.dumps(list(w.segments)), *w.values, w.final,
                                      w.bucket, *pk, w.decision)))
        set_total = self.db.prepare(SET_TOTAL)
        for arm, values in totals.items():
            batch.add(set_total.bind((*values, *pk, "total", json.dumps(list(arm), separators=(",", ":")))))
        for row, values in buckets.items():
            batch.add(set_total.bind((*values, *pk, BUCKET_KIND, bucket_name(row))))
        return bool(self.db.session.execute(batch).one()["[applied]"])


def _values(row: Mapping) -> Values:
    return tuple(float(row[name] or 0.0) for name in FIELDS)  # type: ignore[return-value]


def _arm(name: str) -> Arm:
    segment, creative_id = json.loads(name)
    return segment, creative_id
