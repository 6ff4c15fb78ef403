"""Segment export for campaign tools: the best creative per segment, and per customer seen in a period.

Per segment: every segment of the slot's counters ('global', 'city:*', 'segment:*'; not 'holdout'),
the eligible creative ranked first by posterior mean (default) or by P(best) (see ``app.insights.best``).
Per customer: the context of the customer's latest impression in the period (the named segment that
decided it, else the customer's city), ranked the same way among the creatives eligible in that city.
"""
from __future__ import annotations

import csv
from datetime import datetime
from typing import Callable, Dict, Iterable, Optional, Sequence, TextIO, Tuple

from app.errors import NotFound
from app.insights.best import HOLDOUT_SEGMENT, Best, best_creative, city_of
from app.insights.timeline import tally
from app.service.runtime import Runtime
from app.storage import SlotConfig
from app.storage.history import HistoryStore
from bandit import GLOBAL, SlotSnapshot

SEGMENT_COLUMNS = ("segment", "decided_by", "creative_id", "rank_by", "mean", "ci95_low", "ci95_high", "p_best",
                   "impressions", "clicks")
CUSTOMER_COLUMNS = ("customer_id", "last_seen", "city", "segment", "decided_by", "creative_id", "rank_by", "mean",
                    "ci95_low", "ci95_high", "p_best")


def _load(rt: Runtime, tenant: str, platform: str, slot_id: str) -> Tuple[SlotConfig, SlotSnapshot]:
    slot = rt.catalog.load_slot(tenant, platform, slot_id)
    if slot is None:
        raise NotFound(f"unknown slot {slot_id!r} on platform {platform!r}", "unknown_slot")
    return slot, rt.stored_snapshot(tenant, platform, slot_id)


def best_per_segment(rt: Runtime, tenant: str, platform: str, slot_id: str, rank_by: str = "mean") -> Iterable[Best]:
    """One ``Best`` per segment with counts, 'global' first, then the others sorted."""
    slot, snapshot = _load(rt, tenant, platform, slot_id)
    segments = [GLOBAL] + sorted(s for s in snapshot.segments if s not in (GLOBAL, HOLDOUT_SEGMENT))
    for segment in segments:
        best = best_creative(slot, snapshot, segment, city_of(segment), rt.policy.config, rank_by)
        if best is not None:
            yield best


def customer_context(segment: Optional[str], city: Optional[str]) -> Optional[str]:
    """The segment a decision for this customer is made on: its named segment, else its city."""
    if segment and segment.startswith(("segment:", "feature:")):
        return segment
    return f"city:{city}" if city else None


def best_per_customer(rt: Runtime, tenant: str, platform: str, slot_id: str, start: datetime, end: datetime,
                      rank_by: str = "mean", progress: Callable[[int, int], None] = lambda done, total: None
                      ) -> Iterable[Tuple[str, datetime, Optional[str], Optional[str], Best]]:
    """(customer_id, last seen, city, context segment, Best) per customer with an impression in [start, end),
    ordered by customer id. Each distinct context is ranked once."""
    slot, snapshot = _load(rt, tenant, platform, slot_id)
    period = tally(HistoryStore(rt.db).events(tenant, platform, slot_id, start, end, progress=progress),
                   start, end, bucket="day")
    ranked: Dict[Tuple[Optional[str], Optional[str]], Optional[Best]] = {}
    for customer_id in sorted(period.customers):
        seen = period.customers[customer_id]
        if not seen.impressions:
            continue  # only clicks in the period: the decision was made before it
        context = (customer_context(seen.segment, seen.city), seen.city)
        if context not in ranked:
            ranked[context] = best_creative(slot, snapshot, context[0], seen.city, rt.policy.config, rank_by)
        best = ranked[context]
        if best is not None:
            yield customer_id, seen.last_seen, seen.city, context[0] or GLOBAL, best


def write_segments(rows: Iterable[Best], rank_by: str, out: TextIO) -> int:
    """CSV of ``best_per_segment``; the number of rows written."""
    writer = csv.writer(out)
    writer.writerow(SEGMENT_COLUMNS)
    count = 0
    for best in rows:
        writer.writerow((best.segment, best.decided_by, best.creative_id, rank_by, best.mean, best.ci95[0],
                         best.ci95[1], best.p_best, best.impressions, best.clicks))
        count += 1
    return count


def write_customers(rows: Iterable[Tuple[str, datetime, Optional[str], Optional[str], Best]], rank_by: str,
                    out: TextIO) -> int:
    """CSV of ``best_per_customer``; the number of rows written."""
    writer = csv.writer(out)
    writer.writerow(CUSTOMER_COLUMNS)
    count = 0
    for customer_id, last_seen, city, segment, best in rows:
        writer.writerow(_customer_row(customer_id, last_seen, city, segment, best, rank_by))
        count += 1
    return count


def _customer_row(customer_id: str, last_seen: datetime, city: Optional[str], segment: Optional[str], best: Best,
                  rank_by: str) -> Sequence:
    return (customer_id, last_seen.isoformat(timespec="seconds"), city or "", segment, best.decided_by,
            best.creative_id, rank_by, best.mean, best.ci95[0], best.ci95[1], best.p_best)
