"""Reads of the event log over a period, and the slots of a tenant: what reports and the dashboard need.

The event log has one partition per slot and UTC hour, so a period of H hours is H partition reads.
They run concurrently (at most ``CONCURRENCY`` in flight) in chunks, so a caller can show progress.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator, List, Optional

from cassandra.concurrent import execute_concurrent_with_args

from app.db import Database
from app.store.events import hour_bucket

CONCURRENCY = 16
CHUNK_HOURS = 48
SELECT_PERIOD = (
    "SELECT event_time, event_id, kind, creative_id, segment, city, customer_id, policy FROM events "
    "WHERE tenant = ? AND platform = ? AND slot_id = ? AND hour = ? AND event_time >= ? AND event_time < ?"
)
SELECT_SLOTS = "SELECT slot_id, holdout_share, objective, description FROM slots WHERE tenant = ? AND platform = ?"


@dataclass(frozen=True)
class LoggedEvent:
    """The columns of one event-log row that reports read."""

    event_time: datetime
    event_id: str  # 'imp:<nonce>' or 'click:<nonce>'
    kind: str  # impression | click
    creative_id: str
    segment: Optional[str]
    city: Optional[str]
    customer_id: Optional[str]
    policy: Optional[str]


@dataclass(frozen=True)
class SlotSummary:
    slot_id: str
    holdout_share: float
    objective: str
    description: Optional[str]


def hours_between(start: datetime, end: datetime) -> List[str]:
    """The hour buckets ('YYYYMMDDHH') that hold events of [start, end), oldest first."""
    hour = start.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    buckets = []
    while hour < end:
        buckets.append(hour_bucket(hour))
        hour += timedelta(hours=1)
    return buckets


class HistoryStore:
    def __init__(self, db: Database):
        self.db = db

    def events(self, tenant: str, platform: str, slot_id: str, start: datetime, end: datetime,
               progress: Optional[Callable[[int, int], None]] = None) -> Iterator[LoggedEvent]:
        """Every event of the slot with start <= event_time < end, hour by hour, oldest hour first.

        ``progress(hours_read, hours_total)`` is called after each chunk of hours.
        """
        statement = self.db.prepare(SELECT_PERIOD)
        buckets = hours_between(start, end)
        for first in range(0, len(buckets), CHUNK_HOURS):
            chunk = buckets[first:first + CHUNK_HOURS]
            args = [(tenant, platform, slot_id, hour, start, end) for hour in chunk]
            results = execute_concurrent_with_args(self.db.session, statement, args,
                                                   concurrency=CONCURRENCY, raise_on_first_error=True)
            for _success, rows in results:
                for row in rows:
                    yield _logged(row)
            if progress is not None:
                progress(first + len(chunk), len(buckets))

    def slots(self, tenant: str, platform: str) -> List[SlotSummary]:
        """The tenant's slots on one platform (one partition), ordered by slot id."""
        rows = self.db.execute(SELECT_SLOTS, (tenant, platform))
        return [SlotSummary(slot_id=r["slot_id"], holdout_share=min(max(r["holdout_share"] or 0.0, 0.0), 1.0),
                            objective=r["objective"] or "clicks", description=r["description"])
                for r in rows]


def _logged(row: dict) -> LoggedEvent:
    moment = row["event_time"]
    if moment.tzinfo is None:  # the driver returns naive UTC datetimes
        moment = moment.replace(tzinfo=timezone.utc)
    return LoggedEvent(event_time=moment, event_id=row["event_id"], kind=row["kind"], creative_id=row["creative_id"], segment=row["segment"],
                       city=row["city"], customer_id=row["customer_id"], policy=row["policy"])
