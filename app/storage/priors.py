"""Seeded Beta priors (table arm_priors): read with the snapshot, replaced whole by a seed."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, Dict, Iterable, Optional, Tuple

from app.storage.db import Database
from bandit import BetaPosterior
from bandit.priors import SeededPrior

INSERT_PRIOR = (
    "INSERT INTO arm_priors (tenant, platform, slot_id, segment, creative_id, alpha, beta, source, seeded_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?"
)
DELETE_SLOT = "DELETE FROM arm_priors USING TIMESTAMP ? WHERE tenant = ? AND platform = ? AND slot_id = ?"
CONCURRENCY = 64  # in-flight writes while replacing a slot's priors


class PriorsStore:
    def __init__(self, db: Database):
        self.db = db

    def read_slot(self, tenant: str, platform: str, slot_id: str) -> Dict[str, Dict[str, BetaPosterior]]:
        """{segment: {creative_id: BetaPosterior}} of one slot (one partition read)."""
        return {segment: {cid: prior for cid, (prior, _) in by_creative.items()}
                for segment, by_creative in self.read_dated(tenant, platform, slot_id).items()}

    def read_dated(self, tenant: str, platform: str, slot_id: str) -> Dict[str, Dict[str, Tuple[BetaPosterior, float]]]:
        """{segment: {creative_id: (BetaPosterior, seeded at in seconds since the epoch)}} of one slot,
        for slots whose evidence is discounted by age (a prior without a seed time counts as seeded now)."""
        rows = self.db.execute(
            "SELECT segment, creative_id, alpha, beta, seeded_at FROM arm_priors "
            "WHERE tenant = ? AND platform = ? AND slot_id = ?",
            (tenant, platform, slot_id),
        )
        now_s = datetime.now(timezone.utc).timestamp()
        priors: Dict[str, Dict[str, Tuple[BetaPosterior, float]]] = {}
        for row in rows:
            if row["alpha"] and row["beta"] and row["alpha"] > 0 and row["beta"] > 0:
                seeded = row["seeded_at"]
                seeded_s = seeded.replace(tzinfo=timezone.utc).timestamp() if seeded is not None else now_s
                priors.setdefault(row["segment"], {})[row["creative_id"]] = (
                    BetaPosterior(row["alpha"], row["beta"]), seeded_s)
        return priors

    def read_rows(self, tenant: str, platform: str, slot_id: str) -> list:
        """Every stored row of a slot (segment, creative_id, alpha, beta, source, seeded_at)."""
        return list(self.db.execute(
            "SELECT segment, creative_id, alpha, beta, source, seeded_at FROM arm_priors "
            "WHERE tenant = ? AND platform = ? AND slot_id = ?",
            (tenant, platform, slot_id),
        ))

    def replace_slot(self, tenant: str, platform: str, slot_id: str, priors: Iterable[SeededPrior],
                     progress: Optional[Callable[[int], None]] = None) -> int:
        """Replace the slot's priors by ``priors``; return how many rows were written.

        The old rows are deleted with write time t and the new ones inserted with t + 1, so the
        result is exactly ``priors`` whatever was there before, and running it again gives the same
        rows: a seed never adds to an earlier seed.
        """
        now = datetime.now(timezone.utc)
        micros = int(now.timestamp() * 1_000_000)
        self.db.execute(DELETE_SLOT, (micros, tenant, platform, slot_id))
        statement = self.db.prepare(INSERT_PRIOR)
        pending, written = [], 0
        for prior in priors:
            pending.append(self.db.session.execute_async(statement.bind((
                tenant, platform, slot_id, prior.segment, prior.creative_id,
                float(prior.prior.alpha), float(prior.prior.beta), prior.source, now, micros + 1,
            ))))
            if len(pending) >= CONCURRENCY:
                written += _drain(pending, progress)
        return written + _drain(pending, progress)


def _drain(pending: list, progress: Optional[Callable[[int], None]]) -> int:
    """Wait for every pending write (raising the first error); report and return how many."""
    count = len(pending)
    for future in pending:
        future.result()
    pending.clear()
    if progress is not None and count:
        progress(count)
    return count
