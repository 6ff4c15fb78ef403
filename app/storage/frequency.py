"""Frequency-cap claims (table ``frequency_claims``): how often a customer was shown each creative.

A slot with ``frequency_cap`` keeps one partition per customer. Each impression takes one row
``(window_start, creative_id, n)``, the n-th of that creative in the window, with
``INSERT ... IF NOT EXISTS``: of two workers that read the same counts and try the same n at once,
exactly one gets it and the other tries n + 1, so no customer is ever shown a creative more than
the cap, across workers and service instances. Rows expire with their window (TTL).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Dict

from app.storage.db import Database

TTL_MARGIN_S = 60  # rows outlive their window a little: a clock a few seconds behind still sees them


def window_start(now: datetime, window_s: int) -> datetime:
    """The start of the fixed window of ``window_s`` seconds that holds ``now`` (windows are aligned on
    the Unix epoch, so every worker and instance agrees on them)."""
    seconds = int(now.timestamp())
    return datetime.fromtimestamp(seconds - seconds % window_s, timezone.utc)


class FrequencyStore:
    def __init__(self, db: Database):
        self.db = db

    def counts(self, tenant: str, platform: str, slot_id: str, customer_id: str,
               start: datetime) -> Dict[str, int]:
        """{creative_id: impressions claimed in the window that starts at ``start``}: one partition read."""
        rows = self.db.execute(
            "SELECT creative_id, n FROM frequency_claims WHERE tenant = ? AND platform = ? AND slot_id = ? "
            "AND customer_id = ? AND window_start = ?",
            (tenant, platform, slot_id, customer_id, start))
        counts: Dict[str, int] = {}
        for row in rows:
            counts[row["creative_id"]] = counts.get(row["creative_id"], 0) + 1
        return counts

    def claim(self, tenant: str, platform: str, slot_id: str, customer_id: str, start: datetime,
              creative_id: str, n: int, ttl_s: int) -> bool:
        """Take the n-th impression of ``creative_id`` in the window; False when another request has it."""
        row = self.db.execute(
            "INSERT INTO frequency_claims (tenant, platform, slot_id, customer_id, window_start, creative_id, n) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS USING TTL ?",
            (tenant, platform, slot_id, customer_id, start, creative_id, n, max(int(ttl_s), 1))).one()
        return bool(row["[applied]"])
