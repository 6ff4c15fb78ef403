"""Everything a slot report shows, gathered once: configuration, posteriors, the period's event log, lift.

Posteriors, intervals and P(best) are those of ``GET /slot/<id>/stats`` (``app.service.slot_stats.slot_stats``:
all counts to date); traffic, click-through over time and the per-city table are the period's events.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from app.insights.best import city_of, lift_from_counts, lift_summary
from app.insights.timeline import PeriodTally, tally
from app.service.slot_stats import slot_stats
from app.service.runtime import Runtime
from app.service.savings import group_of, savings_dict, savings_of
from app.service.slot_zone import slot_zone
from app.storage import SlotConfig
from app.storage.history import HistoryStore
from bandit import GLOBAL


@dataclass
class SlotReport:
    tenant: str
    platform: str
    slot: SlotConfig
    stats: Dict[str, Any]  # as GET /slot/<id>/stats
    period: PeriodTally
    lift_to_date: Optional[dict]  # None: no holdout data
    lift_in_period: Optional[dict]  # None: no holdout events in the period
    generated_at: datetime
    savings: Optional[Dict[str, Any]] = None  # the period's saved traffic (app.service.savings.savings_dict)
    savings_by_day: List[Tuple[date, Dict[str, Any]]] = field(default_factory=list)  # per day of the slot's zone

    def segment(self, name: str) -> Optional[Dict[str, Any]]:
        return next((s for s in self.stats["segments"] if s["segment"] == name), None)

    def city_rows(self) -> List[Dict[str, Any]]:
        """One row per city: the period's impressions, clicks and click-through, and the creative the
        city's current posterior ranks first (highest mean among eligible creatives), with its interval."""
        cities = set(self.period.by_city) - {"(none)"}
        cities |= {city_of(s["segment"]) for s in self.stats["segments"] if city_of(s["segment"])}
        rows = []
        for city in sorted(cities):
            counts = self.period.by_city.get(city)
            segment = self.segment(f"city:{city}") or {"decided_by": GLOBAL, "creatives": []}
            eligible = [c for c in segment["creatives"] if c["eligible"]]
            best = max(eligible, key=lambda c: (c["mean"], c["creative_id"]), default=None)
            rows.append({
                "city": city,
                "impressions": counts.impressions if counts else 0,
                "clicks": counts.clicks if counts else 0,
                "ctr": (min(counts.clicks, counts.impressions) / counts.impressions) if counts and counts.impressions else None,
                "decided_by": segment["decided_by"],
                "best_creative": best["creative_id"] if best else None,
                "best_mean": best["mean"] if best else None,
                "best_ci95": best["ci95"] if best else None,
                "best_p_best": best["p_best"] if best else None,
            })
        return rows


def build_report(rt: Runtime, tenant: str, platform: str, slot_id: str, start: datetime, end: datetime,
                 bucket: str = "auto", progress: Callable[[str], None] = lambda message: None,
                 hours_read: Optional[Callable[[int, int], None]] = None) -> SlotReport:
    """Read the slot's configuration, counters and the events of [start, end) and sum them up.

    ``progress`` gets one line per step, ``hours_read(done, total)`` the progress of the event log.
    Raises ``app.errors.NotFound`` for a slot the tenant does not have.
    """
    stats = slot_stats(rt, tenant, platform, slot_id, None)
    slot = rt.catalog.load_slot(tenant, platform, slot_id)
    progress(f"posteriors of {len(stats['segments'])} segments read")

    events = HistoryStore(rt.db).events(tenant, platform, slot_id, start, end, progress=hours_read)
    period = tally(events, start, end, bucket, zone=slot_zone(slot))
    progress(f"event log: {period.events} events in the period")
    savings, by_day = period_savings(rt, slot, period)
    treated, holdout = period.holdout_split()
    lift_in_period = None
    if holdout.impressions:
        lift = lift_from_counts(treated, holdout)
        lift_in_period = {"bandit": {"impressions": treated.impressions, "clicks": treated.clicks},
                          "holdout": {"impressions": holdout.impressions, "clicks": holdout.clicks},
                          **lift.as_dict()}
    return SlotReport(tenant=tenant, platform=platform, slot=slot, stats=stats, period=period,
                      lift_to_date=lift_summary(rt.counts.read_slot(tenant, platform, slot_id)),
                      lift_in_period=lift_in_period, generated_at=end, savings=savings, savings_by_day=by_day)


def period_savings(rt: Runtime, slot: SlotConfig, period: PeriodTally) -> Tuple[Dict[str, Any], list]:
    """Saved traffic of the period's impressions (grouped by the posterior that decided each one, judged by
    the posteriors to date), in total and per day of the slot's zone."""
    snapshot = rt.stored_snapshot(slot.tenant, slot.platform, slot.slot_id)

    def of(days) -> Dict[str, Any]:
        groups: Dict[str, Dict[str, int]] = {}
        for day in days:
            for segment, by_creative in period.decided_by_day.get(day, {}).items():
                target = groups.setdefault(group_of(snapshot, segment), {})
                for cid, n in by_creative.items():
                    target[cid] = target.get(cid, 0) + n
        rng = np.random.default_rng(0)  # fixed: the same counts always show the same interval
        return savings_dict(savings_of(rt.policy.config, rt.revenue_policy.revenue_config, slot, snapshot, groups,
                                       rng), slot.objective)

    days = sorted(period.decided_by_day)
    return of(days), [(day, of([day])) for day in days]
