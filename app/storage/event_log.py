"""The event log (impressions and clicks, hourly partitions) and the exactly-once click claims.

The log lives in two tables with the same partitions: ``events`` (one row per event: clicks, and
events written by the stream workers) and ``event_blocks`` (the impressions of one write packed
into one row, see app/storage/event_blocks.py). ``read_partitions`` merges both, so every reader
sees one list of events per partition whichever way they were written.
"""
from __future__ import annotations

import logging

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from cassandra import ConsistencyLevel
from cassandra.concurrent import execute_concurrent
from cassandra.query import BatchStatement, BatchType

from app.storage.lazy import computed_once
from app.storage import event_blocks
from app.storage.db import Database

log = logging.getLogger(__name__)

EVENT_COLUMNS = ("tenant", "platform", "slot_id", "hour", "event_time", "event_id", "kind", "decision_id",
                 "creative_id", "segment")
OPTIONAL_COLUMNS = ("city", "customer_id", "referrer", "policy", "propensity")
BATCH_MAX_ROWS = 500
# Bytes of values per batch: Cassandra 2.2 to 3.5 refuse any batch over 50 KiB by default
# (batch_size_fail_threshold_in_kb); later versions only multi-partition ones.
BATCH_MAX_BYTES = 40 * 1024


@dataclass(frozen=True)
class Event:
    """One row of the event log. ``event_id`` is deterministic, so writing it twice is harmless."""

    tenant: str
    platform: str
    slot_id: str
    event_time: datetime
    event_id: str
    kind: str  # impression | click
    decision_id: str
    creative_id: str
    segment: str
    city: Optional[str] = None
    customer_id: Optional[str] = None
    referrer: Optional[str] = None
    policy: Optional[str] = None
    propensity: Optional[float] = None

    @computed_once  # read twice per write (partition grouping, row values); computed once
    def hour(self) -> str:
        return hour_bucket(self.event_time)


def hour_bucket(moment: datetime) -> str:
    """The partition bucket of a moment: its UTC hour as 'YYYYMMDDHH'."""
    return moment.astimezone(timezone.utc).strftime("%Y%m%d%H")


def hours_between(start: datetime, end: datetime) -> List[str]:
    """The hour buckets that hold events of [start, end), oldest first (naive moments are UTC)."""
    start, end = (m if m.tzinfo else m.replace(tzinfo=timezone.utc) for m in (start, end))
    hour = start.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    buckets = []
    while hour < end:
        buckets.append(hour_bucket(hour))
        hour += timedelta(hours=1)
    return buckets


Partition = Tuple[str, str, str, str]  # (tenant, platform, slot_id, hour)
SELECT_PARTITION = (
    "SELECT tenant, platform, slot_id, event_time, event_id, kind, decision_id, creative_id, segment, city, "
    "customer_id, referrer, policy, propensity FROM events "
    "WHERE tenant = ? AND platform = ? AND slot_id = ? AND hour = ? AND event_time >= ? AND event_time < ?"
)
SELECT_BLOCKS = (
    "SELECT events, packed FROM event_blocks "
    "WHERE tenant = ? AND platform = ? AND slot_id = ? AND hour = ? AND first_time < ?"
)
INSERT_BLOCK = (
    "INSERT INTO event_blocks (tenant, platform, slot_id, hour, first_time, block_id, event_count, packed) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
BLOCKS_PAGE = 100  # blocks per page of a partition read
READ_CONCURRENCY = 16  # queries in flight at once (two per partition: rows and blocks)
READ_CHUNK = 48  # partitions per round trip of read_partitions (progress is reported between chunks)


# The lease of a released claim: long past, so that any retry may take the claim over.
LEASE_RELEASED = datetime(1970, 1, 1, tzinfo=timezone.utc)


class Claim(NamedTuple):
    """A click's claim: 'pending' (claimed, being counted) or 'counted'; ``claimed_at`` is its lease,
    ``clicked_at`` the time of its first claim."""

    state: str
    claimed_at: datetime
    clicked_at: datetime


class EventStore:
    def __init__(self, db: Database):
        self.db = db

    def batches(self, events: Iterable[Event], max_rows: int = BATCH_MAX_ROWS,
                max_bytes: int = BATCH_MAX_BYTES) -> List[Tuple[BatchStatement, int]]:
        """Unlogged batches, each within one partition (slot and hour) so that Cassandra applies it
        as one mutation, of at most ``max_rows`` events and about ``max_bytes`` of values; with the
        number of rows each holds. Few, large requests matter: a request costs Cassandra far more
        CPU than a row, and the server shares the machine's cores with the service in small setups."""
        by_partition: Dict[tuple, List[Event]] = {}
        for event in events:
            by_partition.setdefault((event.tenant, event.platform, event.slot_id, event.hour), []).append(event)
        batches = []
        for group in by_partition.values():
            batch, rows, size = BatchStatement(batch_type=BatchType.UNLOGGED), 0, 0
            for event in group:
                row_size = _size(event)
                if rows and (rows == max_rows or size + row_size > max_bytes):
                    batches.append((batch, rows))
                    batch, rows, size = BatchStatement(batch_type=BatchType.UNLOGGED), 0, 0
                batch.add(self._bound_insert(event))
                rows, size = rows + 1, size + row_size
            batches.append((batch, rows))
        return batches

    def blocks(self, events: Iterable[Event], max_events: int = event_blocks.BLOCK_MAX_EVENTS,
               max_bytes: int = event_blocks.BLOCK_MAX_BYTES) -> List[Tuple[object, int]]:
        """One INSERT per partition (slot and hour) holding all its events as a block (or a few
        blocks, each of at most ``max_events`` events and about ``max_bytes`` of JSON); with the
        number of events each holds. A block is one row (two value cells) however many events it
        holds, and Cassandra's cost is mostly per request and per row, not per byte. Its clustering
        key starts with the earliest event_time of the block: readers select blocks by it."""
        statement = self.db.prepare(INSERT_BLOCK)
        inserts = []
        for (tenant, platform, slot_id, hour), group in event_blocks.split(events, max_events, max_bytes):
            first = min(event.event_time for event in group)
            inserts.append((statement.bind((tenant, platform, slot_id, hour, first, event_blocks.block_id(group),
                                            len(group), event_blocks.pack(group))), len(group)))
        return inserts

    def insert(self, event: Event) -> None:
        self.db.session.execute(self._bound_insert(event))

    def _bound_insert(self, event: Event):
        """The INSERT of one event naming only its columns that have a value.

        Binding None would write a tombstone cell for every empty column (protocol v3, which the
        embedded Cassandra 2.1 speaks, has no "unset" value): for an impression without city,
        customer or referrer that is three extra cells to store, compact and skip on every read.
        There are at most 2^5 column sets; each is prepared once (Database.prepare caches).
        """
        present = tuple(c for c in OPTIONAL_COLUMNS if getattr(event, c) is not None)
        columns = EVENT_COLUMNS + present
        statement = self.db.prepare(
            f"INSERT INTO events ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})")
        return statement.bind(_values(event) + tuple(getattr(event, c) for c in present))

    def read_period(self, tenant: str, platform: str, slot_id: str, start: datetime, end: datetime,
                    progress: Optional[Callable[[int, int], None]] = None) -> Iterator[dict]:
        """Every event row of one slot with start <= event_time < end, oldest hour first."""
        partitions = [(tenant, platform, slot_id, hour) for hour in hours_between(start, end)]
        return self.read_partitions(partitions, start, end, progress)

    def read_partitions(self, partitions: Sequence[Partition], start: datetime, end: datetime,
                        progress: Optional[Callable[[int, int], None]] = None) -> Iterator[dict]:
        """The events of the given hour partitions with start <= event_time < end, partition by partition.

        Each partition's rows (table ``events``) and blocks (table ``event_blocks``) are merged into
        one list ordered by (event_time, event_id), one entry per such key, as the clustering of
        ``events`` orders and de-duplicates rows. Partitions are read ``READ_CONCURRENCY`` queries
        at a time in chunks of ``READ_CHUNK``; ``progress(partitions_read, partitions_total)`` is
        called after each chunk. ``event_time`` comes back as an aware UTC datetime (the driver
        returns naive UTC).
        """
        rows_statement, blocks_statement = self.db.prepare(SELECT_PARTITION), self.db.prepare(SELECT_BLOCKS)
        blocks_statement.fetch_size = BLOCKS_PAGE  # a block holds up to 1,000 events: smaller pages
        for first in range(0, len(partitions), READ_CHUNK):
            chunk = partitions[first:first + READ_CHUNK]
            queries = []
            for key in chunk:
                queries += [(rows_statement, (*key, start, end)), (blocks_statement, (*key, end))]
            results = execute_concurrent(self.db.session, queries, concurrency=READ_CONCURRENCY,
                                         raise_on_first_error=True)
            for key, (_ok, rows), (_ok_blocks, blocks) in zip(chunk, results[0::2], results[1::2]):
                yield from _partition_events(key, rows, blocks, start, end)
            if progress is not None:
                progress(first + len(chunk), len(partitions))

    def claim_click(self, tenant: str, decision: str, ttl_s: int, now: datetime) -> bool:
        """Claim a decision's click. True for exactly one caller, however many race (Paxos).
        ``claimed_at`` is the claim's lease: see ``take_over``."""
        row = self.db.execute(
            "INSERT INTO click_claims (tenant, decision, state, claimed_at, clicked_at) VALUES (?, ?, 'pending', ?, ?) "
            "IF NOT EXISTS USING TTL ?",
            (tenant, decision, now, now, ttl_s),
        ).one()
        return bool(row["[applied]"])

    def claim(self, tenant: str, decision: str) -> Optional[Claim]:
        """The claim of a decision's click as the last Paxos round left it, or None."""
        row = self.db.execute(
            "SELECT state, claimed_at, clicked_at FROM click_claims WHERE tenant = ? AND decision = ?",
            (tenant, decision),
            consistency=ConsistencyLevel.SERIAL,
        ).one()
        if row is None:
            return None
        return Claim(row["state"], row["claimed_at"], row["clicked_at"] or row["claimed_at"])

    def take_over(self, tenant: str, decision: str, claimed_at: datetime, now: datetime, ttl_s: int) -> bool:
        """Become the owner of an unfinished claim whose lease (``claimed_at``) is the one read;
        True for exactly one of several callers."""
        row = self.db.execute(
            "UPDATE click_claims USING TTL ? SET claimed_at = ? WHERE tenant = ? AND decision = ? "
            "IF state = 'pending' AND claimed_at = ?",
            (ttl_s, now, tenant, decision, claimed_at),
        ).one()
        if not row["[applied]"]:
            log.info("click take-over refused", extra={"decision": decision, "expected": str(claimed_at),
                                                       "found": str(row.get("claimed_at")), "state": row.get("state")})
        return bool(row["[applied]"])

    def release_lease(self, tenant: str, decision: str, claimed_at: datetime, ttl_s: int) -> None:
        """Give up a claim's lease at once (its owner failed and has nothing in flight), so that the
        click's next retry takes it over without waiting for the lease to run out."""
        self.db.execute(
            "UPDATE click_claims USING TTL ? SET claimed_at = ? WHERE tenant = ? AND decision = ? "
            "IF state = 'pending' AND claimed_at = ?",
            (ttl_s, LEASE_RELEASED, tenant, decision, claimed_at),
        )

    def mark_counted(self, tenant: str, decision: str, ttl_s: int) -> None:
        self.db.execute(
            "UPDATE click_claims USING TTL ? SET state = 'counted' WHERE tenant = ? AND decision = ?",
            (ttl_s, tenant, decision),
        )

    def claim_state(self, tenant: str, decision: str) -> Optional[str]:
        claim = self.claim(tenant, decision)
        return claim.state if claim else None


def _partition_events(key: Partition, rows, blocks, start: datetime, end: datetime) -> List[dict]:
    """The rows and block events of one partition inside [start, end), merged (see read_partitions)."""
    found = []
    for row in rows:
        row["event_time"] = event_blocks.aware(row["event_time"])
        found.append(row)
    start_utc, end_utc = event_blocks.to_millisecond(start), event_blocks.to_millisecond(end)
    merged = False
    for block in blocks:
        stored = block["packed"] if block["packed"] is not None else block["events"]
        found += [event for event in event_blocks.unpack(stored, *key[:3])
                  if start_utc <= event["event_time"] < end_utc]
        merged = True
    return event_blocks.merge_rows(found) if merged else found


def _size(event: Event) -> int:
    """About the bytes of an event's values (strings dominate; fixed-size values count 8)."""
    return sum(len(value) if isinstance(value, str) else 8
               for value in (*_values(event), event.city, event.customer_id, event.referrer, event.policy))


def _values(event: Event) -> tuple:
    """The values of EVENT_COLUMNS."""
    return (
        event.tenant, event.platform, event.slot_id, event.hour, event.event_time, event.event_id, event.kind,
        event.decision_id, event.creative_id, event.segment,
    )
