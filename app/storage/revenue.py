"""Storage of the revenue objective: customers' clicks, decisions' labels and their sums per arm.

Labels change as purchases, repeats and refunds arrive, so the sums per (segment, creative) are kept
as absolute values, never as counters: each change is written as ONE conditional batch on the slot's
``revenue_state`` partition (the pattern of app/storage/stream_totals.py):

    UPDATE ... SET version = v + 1 ... IF version = v            (the fence)
    UPDATE label rows of the changed decisions (absolute values)
    UPDATE total rows: old total + (new label - old label)

Either all of it is applied or none, and a writer that read an older version retries from fresh
reads, so two recomputations racing on one slot can neither lose nor double a change.
"""
from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from cassandra import ConsistencyLevel

from app.storage.db import Database
from app.storage.fence import fenced_batch
from app.errors import StorageUnavailable

FIELDS = ("purchases", "refunds", "gross", "gross_sq", "refunded")
Arm = Tuple[str, str]  # (segment, creative_id)
Values = Tuple[float, float, float, float, float]  # in the order of FIELDS
ZERO: Values = (0.0, 0.0, 0.0, 0.0, 0.0)

_PK = " WHERE tenant = ? AND platform = ? AND slot_id = ?"
READ_FENCE = "SELECT version FROM revenue_state" + _PK + " AND kind = 'fence' AND name = ''"
READ_LABELS = ("SELECT name, purchases, refunds, gross, gross_sq, refunded, final FROM revenue_state" + _PK
               + " AND kind = 'label' AND name IN ?")
READ_TOTALS = ("SELECT name, purchases, refunds, gross, gross_sq, refunded FROM revenue_state" + _PK
               + " AND kind = 'total'")
SET_LABEL = ("UPDATE revenue_state USING TTL ? SET creative_id = ?, segments = ?, purchases = ?, refunds = ?, "
             "gross = ?, gross_sq = ?, refunded = ?, final = ?" + _PK + " AND kind = 'label' AND name = ?")
SET_TOTAL = ("UPDATE revenue_state SET purchases = ?, refunds = ?, gross = ?, gross_sq = ?, refunded = ?"
             + _PK + " AND kind = 'total' AND name = ?")
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

    def apply(self, tenant: str, platform: str, slot_id: str, writes: Sequence[LabelWrite],
              attempts: int = 20) -> int:
        """Store new labels and move the totals by their change; return how many labels changed.

        Reads the fence, the old labels and the totals, writes one conditional batch, and starts
        again from fresh reads when another writer moved the fence in between.
        """
        pk = (tenant, platform, slot_id)
        for attempt in range(attempts):
            if attempt:  # another writer won the fence: back off a little, randomly, before re-reading
                time.sleep(random.uniform(0, 0.005 * attempt))
            version = self._version(pk)
            old = self._labels(pk, [w.decision for w in writes])
            changed = [w for w in writes if old.get(w.decision, (ZERO, False)) != (w.values, w.final)]
            if not changed:
                return 0
            totals = self._moved_totals(pk, old, changed)
            if self._commit(pk, version, changed, totals):
                return len(changed)
        raise StorageUnavailable(f"the revenue state of slot {slot_id!r} kept changing; retry later",
                                 "revenue_state_busy")

    def _version(self, pk: tuple) -> Optional[int]:
        row = self.db.execute(READ_FENCE, pk, consistency=ConsistencyLevel.SERIAL).one()
        return None if row is None else row["version"]

    def _labels(self, pk: tuple, decisions: Iterable[str]) -> Dict[str, Tuple[Values, bool]]:
        names = sorted(set(decisions))
        rows = self.db.execute(READ_LABELS, (*pk, names), consistency=ConsistencyLevel.QUORUM)
        return {r["name"]: (_values(r), bool(r["final"])) for r in rows}

    def _moved_totals(self, pk: tuple, old: Mapping[str, Tuple[Values, bool]],
                      changed: Sequence[LabelWrite]) -> Dict[Arm, Values]:
        """The total rows the changed labels touch, each moved by (new - old)."""
        rows = self.db.execute(READ_TOTALS, pk, consistency=ConsistencyLevel.QUORUM)
        current = {_arm(r["name"]): _values(r) for r in rows}
        moved: Dict[Arm, Values] = {}
        for write in changed:
            before = old.get(write.decision, (ZERO, False))[0]
            delta = [new - was for new, was in zip(write.values, before)]
            for segment in write.segments:
                arm = (segment, write.creative_id)
                base = moved.get(arm, current.get(arm, ZERO))
                moved[arm] = tuple(b + d for b, d in zip(base, delta))  # type: ignore[assignment]
        return moved

    def _commit(self, pk: tuple, version: Optional[int], changed: Sequence[LabelWrite],
                totals: Mapping[Arm, Values]) -> bool:
        batch = fenced_batch(self.db, "revenue_state", pk, version)
        set_label = self.db.prepare(SET_LABEL)
        for w in changed:
            batch.add(set_label.bind((w.ttl_s, w.creative_id, json.dumps(list(w.segments)), *w.values, w.final,
                                      *pk, w.decision)))
        set_total = self.db.prepare(SET_TOTAL)
        for arm, values in totals.items():
            batch.add(set_total.bind((*values, *pk, json.dumps(list(arm), separators=(",", ":")))))
        return bool(self.db.session.execute(batch).one()["[applied]"])


def _values(row: Mapping) -> Values:
    return tuple(float(row[name] or 0.0) for name in FIELDS)  # type: ignore[return-value]


def _arm(name: str) -> Arm:
    segment, creative_id = json.loads(name)
    return segment, creative_id
