"""The identities of customer events: which call counts an event as accepted, exactly once.

An event's key row lives in partition (tenant, UTC hour of its time, shard of its id). A call
claims all its new keys of one partition with one conditional batch (``INSERT ... IF NOT EXISTS``
for each key: one Paxos round for up to ``CLAIM_ROWS`` events), instead of one lightweight
transaction per event. A conditional batch is all or nothing: when another call claimed one of
its keys first, nothing is applied and Cassandra answers with the rows that exist; those events
are duplicates, and the batch is sent again without them. So among any number of calls racing
on one event exactly one wins it, as with one transaction per event.

A claimed key is never updated afterwards: the call that loses an event whose key carries the
same fingerprint writes the event's rows again (they are idempotent). That completes the work of a
call that claimed and then failed (the client got 503 and sends again), at the cost of a rewrite
per resent event, instead of a second write per new event to mark its key done.

A bulk load of history (``slotbandit ingest-events``, one writer) reads the keys of each hour its
file touches once, writes the rows of the events whose keys do not exist, and only then writes
their keys without a condition: a key then always means a complete event, and a second run of the
same file only reads.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from cassandra import ConsistencyLevel
from cassandra.query import BatchStatement, BatchType

from app.storage.batches import pack, run_all
from app.storage.customer_events import CustomerEvent
from app.storage.db import Database
from app.errors import StorageUnavailable

SHARDS = 8          # never change: a key is looked for in the shard its id hashes to
CLAIM_ROWS = 200    # keys per conditional batch (about 30 KiB: under Cassandra 4/5's 50 KiB batch limit)
CLAIM_ROUNDS = 20   # a batch refused this often in a row (keys claimed meanwhile each time) fails

_PK = "tenant = ? AND hour = ? AND shard = ?"
INSERT = ("INSERT INTO customer_event_keys (tenant, hour, shard, event_id, customer_id, fingerprint, received_at) "
          "VALUES (?, ?, ?, ?, ?, ?, ?)")
CLAIM = INSERT + " IF NOT EXISTS"
# A bulk load's keys: an UPDATE writes no row marker (a quarter fewer cells); the row exists all the
# same for reads and for INSERT ... IF NOT EXISTS (it has live cells).
WRITE = f"UPDATE customer_event_keys SET customer_id = ?, fingerprint = ?, received_at = ? WHERE {_PK} AND event_id = ?"
# Every key of one hour (EventKeyStore.ids_of_hours).
READ_HOURS = "SELECT event_id FROM customer_event_keys WHERE tenant = ? AND hour = ? AND shard IN ?"
ALL_SHARDS = list(range(SHARDS))
HOURS_PER_READ = 64  # hours read at once: a second load holds their keys as rows, then only their ids
INSERT_ROWS, INSERT_BYTES = 100, 16 * 1024   # keys per batch of plain writes (app/storage/batches.py)


@dataclass(frozen=True)
class Claim:
    """The answer of claiming one event: ``won`` for the call that claimed it first; else the
    fingerprint of the event that claimed the id."""

    won: bool
    fingerprint: Optional[str] = None


def key_partition(event: CustomerEvent) -> Tuple[str, str, int]:
    """(tenant, hour, shard) of an event's key row."""
    return event.tenant, event.hour, zlib.crc32(event.event_id.encode()) % SHARDS


def _by_partition(events: Sequence[CustomerEvent]) -> Dict[Tuple[str, str, int], List[CustomerEvent]]:
    groups: Dict[Tuple[str, str, int], List[CustomerEvent]] = {}
    for event in events:
        groups.setdefault(key_partition(event), []).append(event)
    return groups


class EventKeyStore:
    def __init__(self, db: Database):
        self.db = db

    def claim(self, events: Sequence[CustomerEvent], now: datetime) -> List[Claim]:
        """The claim of each event (ids must be distinct), in order."""
        claims: Dict[str, Claim] = {}
        pending = [(pk, group[i:i + CLAIM_ROWS]) for pk, group in _by_partition(events).items()
                   for i in range(0, len(group), CLAIM_ROWS)]
        for _ in range(CLAIM_ROUNDS):
            if not pending:
                break
            pending = self._claim_round(pending, claims, now)
        if pending:
            raise StorageUnavailable("events kept being claimed by other calls at the same moment; send them again")
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
                claims[event_id] = Claim(False, row.get("fingerprint"))
            rest = [event for event in group if event.event_id not in taken]
            if rest:
                again.append((pk, rest))
        return again

    # --- bulk loads (one writer): the keys of an hour read once, then plain writes ----------------

    def ids_of_hours(self, tenant: str, hours: Iterable[str]) -> Dict[str, Set[str]]:
        """{hour: the ids of every key stored in that UTC hour of event time}: one read per hour,
        of its whole partitions (every shard).

        A bulk load reads each hour its file touches once and keeps the ids (``KnownIds`` in
        app/service/bulk_events.py). Looking a chunk's ids up instead costs Cassandra a scan of
        every partition of every hour the chunk touches, in every sstable, for every chunk: a
        load of millions of events over weeks spent more on those reads than on writing."""
        read = self.db.prepare(READ_HOURS)
        hours = sorted(set(hours))
        ids: Dict[str, Set[str]] = {}
        for i in range(0, len(hours), HOURS_PER_READ):  # rows of a few hours at a time in memory
            group = hours[i:i + HOURS_PER_READ]
            results = self._run((read, (tenant, hour, ALL_SHARDS)) for hour in group)
            ids.update((hour, {row["event_id"] for row in rows}) for hour, rows in zip(group, results))
        return ids

    def insert(self, events: Sequence[CustomerEvent], now: datetime) -> None:
        """Write the keys of the events without a condition (packed unlogged batches)."""
        write = self.db.prepare(WRITE)
        self._run(pack(((write, (event.customer_id, event.fingerprint, now, *pk, event.event_id))
                        for pk, group in _by_partition(events).items() for event in group), INSERT_ROWS, INSERT_BYTES))

    def fingerprint(self, event: CustomerEvent) -> Optional[str]:
        """The fingerprint stored with an event's key, None when it was never claimed."""
        row = self.db.execute(f"SELECT fingerprint FROM customer_event_keys WHERE {_PK} AND event_id = ?",
                              (*key_partition(event), event.event_id), consistency=ConsistencyLevel.SERIAL).one()
        return row["fingerprint"] if row else None

    def _run(self, statements: Iterable[Tuple[Any, tuple]]) -> List[List[Dict[str, Any]]]:
        return run_all(self.db.session, statements)
