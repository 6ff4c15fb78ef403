"""Frequency-cap marks (table ``frequency_marks``): which creatives a customer was shown in a window.

A slot with ``frequency_cap`` keeps one partition per customer. Each impression is one row
``(window_start, creative_id, mark)`` with a fresh timeuuid ``mark`` and a TTL that outlives the
window. Writes and reads are plain ones at the session's LOCAL_QUORUM: a read that starts after a write
has completed sees it, which is all the protocol of ``app.service.frequency`` needs (no Paxos round).
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone
from typing import Dict, List

from app.storage.db import Database

log = logging.getLogger(__name__)

TTL_MARGIN_S = 60  # rows outlive their window a little: a clock a few seconds behind still sees them
_KEY = "tenant = ? AND platform = ? AND slot_id = ? AND customer_id = ? AND window_start = ?"


def window_start(now: datetime, window_s: int) -> datetime:
    """The start of the fixed window of ``window_s`` seconds that holds ``now`` (windows are aligned on
    the Unix epoch, so every worker and instance agrees on them)."""
    seconds = int(now.timestamp())
    return datetime.fromtimestamp(seconds - seconds % window_s, timezone.utc)


class FrequencyStore:
    def __init__(self, db: Database):
        self.db = db

    def marks(self, tenant: str, platform: str, slot_id: str, customer_id: str,
              start: datetime) -> Dict[str, List[uuid.UUID]]:
        """{creative_id: [marks]} of the window that starts at ``start``: one partition read."""
        rows = self.db.execute(f"SELECT creative_id, mark FROM frequency_marks WHERE {_KEY}",
                               (tenant, platform, slot_id, customer_id, start))
        marks: Dict[str, List[uuid.UUID]] = {}
        for row in rows:
            marks.setdefault(row["creative_id"], []).append(row["mark"])
        return marks

    def mark(self, tenant: str, platform: str, slot_id: str, customer_id: str, start: datetime,
             creative_id: str, mark: uuid.UUID, ttl_s: int) -> None:
        """Write one impression's mark; returns once the write is acknowledged (raises if it is not)."""
        self.db.execute(
            "INSERT INTO frequency_marks (tenant, platform, slot_id, customer_id, window_start, creative_id, mark) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) USING TTL ?",
            (tenant, platform, slot_id, customer_id, start, creative_id, mark, max(int(ttl_s), 1)))

    def withdraw(self, tenant: str, platform: str, slot_id: str, customer_id: str, start: datetime,
                 creative_id: str, mark: uuid.UUID) -> None:
        """Delete a mark whose decision did not show its creative, without waiting. A delete that fails
        leaves the mark until its TTL: the customer may then see that creative once less, never once more."""
        future = self.db.execute_async(f"DELETE FROM frequency_marks WHERE {_KEY} AND creative_id = ? AND mark = ?",
                                       (tenant, platform, slot_id, customer_id, start, creative_id, mark))
        future.add_errback(lambda error: log.warning("a frequency mark was not withdrawn; it expires with its "
                                                     "window", extra={"error": str(error)}))
