"""The event log (impressions and clicks, hourly partitions) and the exactly-once click claims."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from cassandra import ConsistencyLevel
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import BatchStatement, BatchType

from app.db import Database

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

    @cached_property  # read twice per write (partition grouping, row values); computed once
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
READ_CONCURRENCY = 16  # partitions read at once
READ_CHUNK = 48  # partitions per round trip of read_partitions (progress is reported between chunks)


class EventStore:
    def __init__(self, db: Database):
        self.db = db

    def batches(self, events: Iterable[Event], max_rows: int = BATCH_MAX_ROWS,
                max_bytes: int = BATCH_MAX_BYTES) -> List[Tuple[BatchStatement, int]]:
        """Unlogged batches, each within one partition (slot and hour) so that Cassandra applies it
        as one mutation, of at most ``max_rows`` events and about ``max_bytes`` of values; with the
        number of rows each holds. Few, large requests matter: a request costs Cassandra far more
        CPU than a row (measured on the embedded 2.1: 100 one-row writes a second keep 40% of a
        core busy), and the server shares the machine's cores with the service in small setups."""
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
        """The rows of the given hour partitions with start <= event_time < end, partition by partition.

        Partitions are read ``READ_CONCURRENCY`` at a time in chunks of ``READ_CHUNK``;
        ``progress(partitions_read, partitions_total)`` is called after each chunk. ``event_time``
        comes back as an aware UTC datetime (the driver returns naive UTC).
        """
        statement = self.db.prepare(SELECT_PARTITION)
        for first in range(0, len(partitions), READ_CHUNK):
            chunk = partitions[first:first + READ_CHUNK]
            results = execute_concurrent_with_args(self.db.session, statement,
                                                   [(*key, start, end) for key in chunk],
                                                   concurrency=READ_CONCURRENCY, raise_on_first_error=True)
            for _success, rows in results:
                for row in rows:
                    if row["event_time"] is not None and row["event_time"].tzinfo is None:
                        row["event_time"] = row["event_time"].replace(tzinfo=timezone.utc)
                    yield row
            if progress is not None:
                progress(first + len(chunk), len(partitions))

    def claim_click(self, tenant: str, decision: str, ttl_s: int, now: datetime) -> bool:
        """Claim a decision's click. True for exactly one caller, however many race (Paxos)."""
        row = self.db.execute(
            "INSERT INTO click_claims (tenant, decision, state, claimed_at) VALUES (?, ?, 'pending', ?) "
            "IF NOT EXISTS USING TTL ?",
            (tenant, decision, now, ttl_s),
        ).one()
        return bool(row["[applied]"])

    def mark_counted(self, tenant: str, decision: str, ttl_s: int) -> None:
        self.db.execute(
            "UPDATE click_claims USING TTL ? SET state = 'counted' WHERE tenant = ? AND decision = ?",
            (ttl_s, tenant, decision),
        )

    def release_claim(self, tenant: str, decision: str) -> None:
        """Undo a claim whose click was provably not counted, so that the client's retry counts it."""
        self.db.execute(
            "DELETE FROM click_claims WHERE tenant = ? AND decision = ? IF EXISTS",
            (tenant, decision),
        )

    def claim_state(self, tenant: str, decision: str) -> Optional[str]:
        row = self.db.execute(
            "SELECT state FROM click_claims WHERE tenant = ? AND decision = ?",
            (tenant, decision),
            consistency=ConsistencyLevel.SERIAL,
        ).one()
        return row["state"] if row else None


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
