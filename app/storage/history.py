"""What reports and the dashboard read: a slot's events over a period (through
``EventStore.read_period``, one partition per UTC hour) and the slots of a tenant."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterator, List, Optional

from app.storage.db import Database
from app.storage.event_log import EventStore

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



class HistoryStore:
    def __init__(self, db: Database):
        self.db = db

    def events(self, tenant: str, platform: str, slot_id: str, start: datetime, end: datetime,
               progress: Optional[Callable[[int, int], None]] = None) -> Iterator[LoggedEvent]:
        """Every event of the slot with start <= event_time < end, hour by hour, oldest hour first.

        ``progress(hours_read, hours_total)`` is called after each chunk of hours.
        """
        for row in EventStore(self.db).read_period(tenant, platform, slot_id, start, end, progress):
            yield _logged(row)

    def slots(self, tenant: str, platform: str) -> List[SlotSummary]:
        """The tenant's slots on one platform (one partition), ordered by slot id."""
        rows = self.db.execute(SELECT_SLOTS, (tenant, platform))
        return [SlotSummary(slot_id=r["slot_id"], holdout_share=min(max(r["holdout_share"] or 0.0, 0.0), 1.0),
                            objective=r["objective"] or "clicks", description=r["description"])
                for r in rows]


def _logged(row: dict) -> LoggedEvent:
    return LoggedEvent(event_time=row["event_time"], event_id=row["event_id"], kind=row["kind"], creative_id=row["creative_id"], segment=row["segment"],
                       city=row["city"], customer_id=row["customer_id"], policy=row["policy"])
