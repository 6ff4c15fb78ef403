"""The event log as a Spark DataFrame, read partition by partition with the Python driver.

The events table has one partition per (tenant, platform, slot, UTC hour). The driver lists the
slots (table ``slots``) and the hours of [since, until); executors each read a share of those
partitions with their own Cassandra session (``mapPartitions``), so no event passes through the
driver. Each row also carries ``segments``: the count rows its decision went to, read from the
decision id's payload (see app.decision_ids), or ['global', 'city:<city>'] when it cannot be read.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable, Iterator, List, Optional, Tuple

from app.storage.db import Database
from app.decision_ids import read_unverified
from app.settings import Settings
from app.storage import event_log
from app.storage.catalog import CatalogStore

EVENT_COLUMNS = ("tenant", "platform", "slot_id", "event_time", "event_id", "kind", "decision_id", "creative_id",
                 "segment", "city", "customer_id", "referrer", "policy", "propensity")
MAX_HOURS = 24 * 366 * 2  # two years of hourly partitions per slot in one run
SlotKey = Tuple[str, str, str]


class EventLogError(Exception):
    """Bad window or no slots; ``str(error)`` is the one line for the operator."""


def hours_between(since: datetime, until: datetime) -> List[str]:
    """The hour buckets ('YYYYMMDDHH') that overlap [since, until), for a window of at most MAX_HOURS."""
    if until <= since:
        raise EventLogError(f"--until ({until.isoformat()}) must be later than --since ({since.isoformat()})")
    count = int((until - since).total_seconds() // 3600) + 1
    if count > MAX_HOURS:
        raise EventLogError(f"the window spans {count} hours; at most {MAX_HOURS} per run (split it)")
    return event_log.hours_between(since, until)


def list_slots(db: Database, tenant: Optional[str] = None) -> List[SlotKey]:
    """Every (tenant, platform, slot_id) of the slots table, or one tenant's."""
    return CatalogStore(db).list_slots(tenant)


def decision_segments(decision_id: Optional[str], city: Optional[str]) -> List[str]:
    """The count rows a decision went to, from its id's payload; ['global', 'city:<c>'] otherwise."""
    token = read_unverified(decision_id)
    if token is not None and token.segments and all(isinstance(s, str) for s in token.segments):
        return list(token.segments)
    return ["global"] + ([f"city:{city}"] if city else [])


def decision_time_s(decision_id: Optional[str], event_time: Optional[datetime]) -> Optional[int]:
    """When the decision was made (its id's time), else the event's own time; seconds since the epoch."""
    token = read_unverified(decision_id)
    if token is not None and isinstance(token.issued_ms, int):
        return token.issued_ms // 1000
    if event_time is None:
        return None
    return int(event_time.replace(tzinfo=event_time.tzinfo or timezone.utc).timestamp())


def events_frame(spark, settings: Settings, slots: Iterable[SlotKey], since: datetime, until: datetime):
    """A DataFrame of EVENT_COLUMNS plus ``segments`` and ``decided_s`` (the decision's time, seconds since
    the epoch: the time bucket of an impression and of its click) for every event of ``slots`` in [since, until)."""
    from pyspark.sql import types as T

    partitions = [(t, p, s, h) for (t, p, s) in slots for h in hours_between(since, until)]
    schema = T.StructType(
        [T.StructField(c, T.TimestampType() if c == "event_time" else
                       T.DoubleType() if c == "propensity" else T.StringType()) for c in EVENT_COLUMNS]
        + [T.StructField("segments", T.ArrayType(T.StringType())), T.StructField("decided_s", T.LongType())]
    )
    if not partitions:
        return spark.createDataFrame([], schema)
    context = spark.sparkContext
    slices = max(1, min(len(partitions), context.defaultParallelism * 4))
    window = (since.astimezone(timezone.utc), until.astimezone(timezone.utc))
    rows = context.parallelize(partitions, slices).mapPartitions(lambda keys: _read(settings, window, keys))
    return spark.createDataFrame(rows, schema)


def _read(settings: Settings, window: Tuple[datetime, datetime], keys: Iterator[tuple]) -> Iterator[tuple]:
    """Executor side: read the given hour partitions with a session of this task's own."""
    db = Database(settings)
    try:
        for row in event_log.EventStore(db).read_partitions(list(keys), *window):
            values = tuple(row[c] for c in EVENT_COLUMNS)
            yield values + (decision_segments(row["decision_id"], row["city"]),
                            decision_time_s(row["decision_id"], row["event_time"]))
    finally:
        db.shutdown()
