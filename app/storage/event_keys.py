"""The identities of customer events: which call counts an event as accepted, exactly once.

An event's key row lives in partition (tenant, UTC day of its time, shard of its id). A call
claims all its new keys of one partition with one conditional batch (``INSERT ... IF NOT EXISTS``
for each key: one Paxos round for up to ``CLAIM_ROWS`` events), instead of one lightweight
transaction per event. A conditional batch is all or nothing: when another call claimed one of
its keys first, nothing is applied and Cassandra answers with the rows that exist; those events
are duplicates, and the batch is sent again without them. So among any number of calls racing
on one event exactly one wins it, as with one transaction per event.

Before claiming, a plain read per partition (``event_id IN ...``) finds the keys stored already,
so a resend costs reads, not Paxos rounds.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Sequence, Tuple

from cassandra import ConsistencyLevel
from cassandra.concurrent import execute_concurrent
from cassandra.query import BatchStatement, BatchType

from app.storage.customer_events import CustomerEvent
from app.storage.db import Database

SHARDS = 8          # never change: a key is looked for in the shard its id hashes to
CLAIM_ROWS = 100    # keys per conditional batch (well under Cassandra 4/5's 50 KiB batch limit)
CONCURRENCY = 64
CLAIM_ROUNDS = 20   # a batch refused this often in a row (keys claimed meanwhile each time) fails

_PK = "tenant = ? AND day = ? AND shard = ?"
READ = f"SELECT event_id, state, fingerprint FROM customer_event_keys WHERE {_PK} AND event_id IN ?"
CLAIM = ("INSERT INTO customer_event_keys (tenant, day, shard, event_id, customer_id, fingerprint, state, "
         "received_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?) IF NOT EXISTS")
MARK_STORED = f"UPDATE customer_event_keys SET state = 'stored' WHERE {_PK} AND event_id = ?"


@dataclass(frozen=True)
class Claim:
    """The answer of claiming one event: ``won`` for the call that claimed it first; else what is stored."""

    won: bool
    state: Optional[str] = None
    fingerprint: Optional[str] = None


def key_partition(event: CustomerEvent) -> Tuple[str, str, int]:
    """(tenant, day, shard) of an event's key row."""
    day = event.event_time.astimezone(timezone.utc).strftime("%Y%m%d")
    return event.tenant, day, zlib.crc32(event.event_id.encode()) % SHARDS


class EventKeyStore:
    def __init__(self, db: Database):
        self.db = db

    def claim(self, events: Sequence[CustomerEvent], now: datetime) -> List[Claim]:
        """The claim of each event (ids must be distinct), in order."""
        claims: Dict[str, Claim] = {}
        by_partition: Dict[Tuple[str, str, int], List[CustomerEvent]] = {}
        for event in events:
            by_partition.setdefault(key_partition(event), []).append(event)
        read = self.db.prepare(READ)
        stored = self._run([(read, (*pk, [e.event_id for e in group])) for pk, group in by_partition.items()])
        pending: List[Tuple[Tuple[str, str, int], List[CustomerEvent]]] = []
        for (pk, group), rows in zip(by_partition.items(), stored):
            found = {row["event_id"]: row for row in rows}
            for row in found.values():
                claims[row["event_id"]] = Claim(False, row["state"], row["fingerprint"])
            fresh = [e for e in group if e.event_id not in found]
            pending += [(pk, fresh[i:i + CLAIM_ROWS]) for i in range(0, len(fresh), CLAIM_ROWS)]
        for _ in range(CLAIM_ROUNDS):
            if not pending:
                break
            pending = self._claim_round(pending, claims, now)
        if pending:
            raise RuntimeError("event keys kept being claimed by other calls; try again")
        return [claims[event.event_id] for event in events]

    def _claim_round(self, pending, claims: Dict[str, Claim], now: datetime):
        """Send one conditional batch per (partition, chunk); the chunks to send again."""
        insert = self.db.prepare(CLAIM)
        statements = []
        for pk, group in pending:
            batch = BatchStatement(batch_type=BatchType.LOGGED, consistency_level=ConsistencyLevel.LOCAL_QUORUM,
                                   serial_consistency_level=ConsistencyLevel.LOCAL_SERIAL)
            for event in group:
                batch.add(insert, (*pk, event.event_id, event.customer_id, event.fingerprint, now))
            statements.append((batch, ()))
        again = []
        for (pk, group), rows in zip(pending, self._run(statements)):
            if rows and rows[0].get("[applied]"):
                claims.update({event.event_id: Claim(True) for event in group})
                continue
            taken = {row["event_id"]: row for row in rows if row.get("event_id") is not None}
            for event_id, row in taken.items():
                claims[event_id] = Claim(False, row.get("state"), row.get("fingerprint"))
            rest = [event for event in group if event.event_id not in taken]
            if rest:
                again.append((pk, rest))
        return again

    def mark_stored(self, events: Sequence[CustomerEvent]) -> None:
        """Mark the keys of fully written events stored (a resend then needs no repair): one
        unlogged batch per partition."""
        update = self.db.prepare(MARK_STORED)
        by_partition: Dict[Tuple[str, str, int], List[CustomerEvent]] = {}
        for event in events:
            by_partition.setdefault(key_partition(event), []).append(event)
        statements = []
        for pk, group in by_partition.items():
            for start in range(0, len(group), CLAIM_ROWS):
                batch = BatchStatement(batch_type=BatchType.UNLOGGED)
                for event in group[start:start + CLAIM_ROWS]:
                    batch.add(update, (*pk, event.event_id))
                statements.append((batch, ()))
        self._run(statements)

    def state(self, event: CustomerEvent) -> Optional[str]:
        """The state of an event's key ('pending', 'stored'), None when never claimed."""
        row = self.db.execute(f"SELECT state FROM customer_event_keys WHERE {_PK} AND event_id = ?",
                              (*key_partition(event), event.event_id), consistency=ConsistencyLevel.SERIAL).one()
        return row["state"] if row else None

    def _run(self, statements: List[Tuple[Any, tuple]]) -> List[List[Dict[str, Any]]]:
        """Execute with bounded concurrency; the rows of each result, in order; raise the first error."""
        if not statements:
            return []
        results = execute_concurrent(self.db.session, statements, concurrency=CONCURRENCY,
                                     raise_on_first_error=False)
        for success, outcome in results:
            if not success:
                raise outcome
        return [list(outcome) for _, outcome in results]
