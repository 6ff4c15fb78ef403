"""Exactly-once counts for Kafka mode: absolute totals per slot, applied by conditional batches.

Cassandra counters are not idempotent, so the stream worker never increments one. For each slot
it keeps, in one partition of ``stream_counts``, a version row, the absolute impressions and clicks
of every count row the stream touched, and one ``seen`` row per applied event id. A group of new
events is applied as ONE conditional batch on that partition:

    UPDATE ... SET version = v + 1 ... IF version = v     (the fence)
    UPDATE ... SET impressions = <new total>, clicks = <new total> ...   (absolute, not +1)
    INSERT ... seen rows of the group's event ids USING TTL

Either all of it is applied or none. A worker killed at any point either applied the group
(its event ids are ``seen``, so a replay skips them) or did not (a replay applies them). Two
workers that both believe they own a slot (a rebalance in progress) cannot both apply: the second
conditional batch finds a new version, re-reads and skips what is already ``seen``.

``seen`` rows expire after ``SEEN_TTL_S``: a duplicate delivered later than that would count
twice. Redeliveries happen within minutes of the original (a replay after a crash, a resend
after a broker outage), far inside this window.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Set, Tuple

from cassandra import ConsistencyLevel

from app.storage.bucket_names import BUCKET_KIND, BucketRow, bucket_name, bucket_prefix, bucket_row
from app.storage.db import Database
from app.storage.fence import fenced_batch
from bandit import ArmCounts

SEEN_TTL_S = 6 * 3600
Row = Tuple[str, str]  # (segment or referrer, creative_id)

READ_TOTALS = ("SELECT kind, name, version, impressions, clicks FROM stream_counts "
               "WHERE tenant = ? AND platform = ? AND slot_id = ? AND kind < 'seen'")
READ_SEEN = ("SELECT name FROM stream_counts WHERE tenant = ? AND platform = ? AND slot_id = ? "
             "AND kind = 'seen' AND name IN ?")
READ_KIND = ("SELECT name, impressions, clicks FROM stream_counts "
             "WHERE tenant = ? AND platform = ? AND slot_id = ? AND kind = ?")
SET_TOTAL = ("UPDATE stream_counts SET impressions = ?, clicks = ? WHERE tenant = ? AND platform = ? "
             "AND slot_id = ? AND kind = ? AND name = ?")
READ_BUCKETS_SINCE = ("SELECT name, impressions, clicks FROM stream_counts "
                      "WHERE tenant = ? AND platform = ? AND slot_id = ? AND kind = 'tb' AND name >= ?")
READ_BUCKET_ROWS = ("SELECT name, impressions, clicks FROM stream_counts "
                    "WHERE tenant = ? AND platform = ? AND slot_id = ? AND kind = 'tb' AND name IN ?")
MARK_SEEN = ("INSERT INTO stream_counts (tenant, platform, slot_id, kind, name) VALUES (?, ?, ?, 'seen', ?) "
             "USING TTL ?")


@dataclass
class SlotTotals:
    """What the stream has applied to one slot so far (``version`` None: nothing yet)."""

    version: Optional[int] = None
    arms: Dict[Row, ArmCounts] = field(default_factory=dict)
    referrers: Dict[Row, ArmCounts] = field(default_factory=dict)


class StreamTotalsStore:
    def __init__(self, db: Database):
        self.db = db

    def read(self, tenant: str, platform: str, slot_id: str) -> SlotTotals:
        """The slot's version and totals, read with SERIAL consistency (sees every committed batch).
        Kinds sort 'arm' < 'fence' < 'ref' < 'seen', so one range read skips the seen rows."""
        totals = SlotTotals()
        for row in self.db.execute(READ_TOTALS, (tenant, platform, slot_id), consistency=ConsistencyLevel.SERIAL):
            if row["kind"] == "fence":
                totals.version = row["version"]
            else:
                target = totals.arms if row["kind"] == "arm" else totals.referrers
                target[_row(row["name"])] = ArmCounts(row["impressions"] or 0, row["clicks"] or 0)
        return totals

    def seen(self, tenant: str, platform: str, slot_id: str, event_ids: Iterable[str]) -> Set[str]:
        """The subset of ``event_ids`` already applied to this slot."""
        ids = sorted(set(event_ids))
        return {row["name"] for row in self.db.execute(READ_SEEN, (tenant, platform, slot_id, ids))}

    def apply(self, tenant: str, platform: str, slot_id: str, expected_version: Optional[int],
              arms: Dict[Row, ArmCounts], referrers: Dict[Row, ArmCounts], event_ids: List[str],
              buckets: Optional[Dict[BucketRow, ArmCounts]] = None) -> bool:
        """Write new absolute totals and the events' ``seen`` rows if the version is still
        ``expected_version``; True when applied, False when another writer came first."""
        pk = (tenant, platform, slot_id)
        batch = fenced_batch(self.db, "stream_counts", pk, expected_version)
        set_total = self.db.prepare(SET_TOTAL)
        for kind, rows in (("arm", arms), ("ref", referrers)):
            for row, counts in rows.items():
                batch.add(set_total.bind((counts.impressions, counts.clicks, *pk, kind, _name(row))))
        for row, counts in (buckets or {}).items():
            batch.add(set_total.bind((counts.impressions, counts.clicks, *pk, BUCKET_KIND, bucket_name(row))))
        mark_seen = self.db.prepare(MARK_SEEN)
        for event_id in event_ids:
            batch.add(mark_seen.bind((*pk, event_id, SEEN_TTL_S)))
        row = self.db.session.execute(batch).one()
        return bool(row["[applied]"])

    def arm_totals(self, tenant: str, platform: str, slot_id: str) -> Dict[Row, ArmCounts]:
        """{(segment, creative_id): ArmCounts} applied by the stream (for the service's reads)."""
        return self._kind(tenant, platform, slot_id, "arm")

    def referrer_totals(self, tenant: str, platform: str, slot_id: str) -> Dict[Row, ArmCounts]:
        """{(referrer, creative_id): ArmCounts} applied by the stream."""
        return self._kind(tenant, platform, slot_id, "ref")

    def bucket_rows(self, tenant: str, platform: str, slot_id: str,
                    rows: Iterable[BucketRow]) -> Dict[BucketRow, ArmCounts]:
        """The current totals of the given bucket rows (kind 'tb'; absent rows are left out).
        Bucket rows sort after 'seen', so the range read of ``read`` never reads them."""
        names = sorted({bucket_name(row) for row in rows})
        if not names:
            return {}
        found = self.db.execute(READ_BUCKET_ROWS, (tenant, platform, slot_id, names),
                                consistency=ConsistencyLevel.SERIAL)
        return {bucket_row(r["name"]): ArmCounts(r["impressions"] or 0, r["clicks"] or 0) for r in found}

    def bucket_totals(self, tenant: str, platform: str, slot_id: str, since: int) -> List[Tuple[int, str, str, int, int]]:
        """(bucket, segment, creative_id, impressions, clicks) of buckets >= since applied by the stream.
        Names start with the zero-padded bucket, so one range read finds them."""
        rows = self.db.execute(READ_BUCKETS_SINCE, (tenant, platform, slot_id, bucket_prefix(since)))
        return [(*bucket_row(r["name"]), r["impressions"] or 0, r["clicks"] or 0) for r in rows]

    def _kind(self, tenant: str, platform: str, slot_id: str, kind: str) -> Dict[Row, ArmCounts]:
        rows = self.db.execute(READ_KIND, (tenant, platform, slot_id, kind))
        return {_row(r["name"]): ArmCounts(r["impressions"] or 0, r["clicks"] or 0) for r in rows}


def _name(row: Row) -> str:
    return json.dumps(list(row), separators=(",", ":"))


def _row(name: str) -> Row:
    first, second = json.loads(name)
    return first, second

