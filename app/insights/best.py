"""The best creative of a context, and the lift of the bandit over its holdout group, from the counters.

Posteriors are those the decisions use (``bandit.posteriors_for``: a leaf segment pooled toward the
slot-wide posterior, 'global' while the leaf has no data) and P(best) is estimated exactly as
``GET /slot/<id>/stats`` does (``app.service.slot_stats.P_BEST_DRAWS`` joint draws, generator seeded with 0),
so an export names the creative the stats endpoint ranks first.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Dict, Mapping, Optional

import numpy as np

from app.clock import now_utc
from app.service.slot_stats import P_BEST_DRAWS
from app.storage import SlotConfig
from bandit import GLOBAL, ArmCounts, SlotSnapshot, ThompsonConfig, choice_probabilities, posteriors_for
from bandit.lift import Lift, lift_over_holdout

HOLDOUT_SEGMENT = "holdout"
RANK_BY = ("mean", "p_best")


@dataclass(frozen=True)
class Best:
    """The creative ranked first in one context, with the numbers it was ranked by."""

    segment: str  # the context asked for: 'global', 'city:pune', 'segment:vip'
    decided_by: str  # the posterior used: the segment itself, or 'global' while it has no data
    creative_id: str
    mean: float
    ci95: tuple
    p_best: float
    impressions: int  # of this creative in the segment asked for
    clicks: int


def best_creative(slot: SlotConfig, snapshot: SlotSnapshot, segment: Optional[str], city: Optional[str],
                  config: ThompsonConfig, rank_by: str = "mean", now: Optional[datetime] = None) -> Optional[Best]:
    """The creative eligible at ``now`` (default: the current time; active, allowed in ``city``, inside
    its flight and hours, as GET /slot/<id>/stats marks it) with the highest posterior mean or P(best) in
    ``segment``; None when no creative is eligible. Ties go to the smaller creative id."""
    if rank_by not in RANK_BY:
        raise ValueError(f"rank_by must be 'mean' or 'p_best', but {rank_by!r} is given")
    eligible = sorted(c.creative_id for c in slot.eligible_at(city, now or now_utc()))
    if not eligible:
        return None
    used, posteriors = posteriors_for(snapshot, segment, eligible, config)
    rng = np.random.default_rng(0)  # as app.service.slot_stats: the same counts always give the same P(best)
    p_best = choice_probabilities(np.array([p.alpha for p in posteriors]), np.array([p.beta for p in posteriors]),
                                  rng, n_draws=P_BEST_DRAWS)
    score = [p.mean for p in posteriors] if rank_by == "mean" else list(p_best)
    index = max(range(len(eligible)), key=lambda i: (score[i], -i))
    posterior, asked = posteriors[index], segment or GLOBAL
    low, high = posterior.credible_interval(0.95)
    counts = snapshot.counts(asked, eligible[index])
    return Best(segment=asked, decided_by=used, creative_id=eligible[index], mean=round(posterior.mean, 6),
                ci95=(round(low, 6), round(high, 6)), p_best=round(float(p_best[index]), 4),
                impressions=counts.impressions, clicks=counts.clicks)


def city_of(segment: str) -> Optional[str]:
    """'city:pune' -> 'pune'; any other segment has no city."""
    return segment[len("city:"):] if segment.startswith("city:") else None


def holdout_counts(segments: Mapping[str, Mapping[str, ArmCounts]]) -> Optional[Dict[str, ArmCounts]]:
    """{'bandit': counts, 'holdout': counts} summed over creatives, or None without holdout data.

    Holdout impressions count in 'global' and in the extra 'holdout' segment, so the bandit's own
    counts are global minus holdout, creative by creative.
    """
    holdout = segments.get(HOLDOUT_SEGMENT) or {}
    if not any(c.impressions for c in holdout.values()):
        return None
    everything = segments.get(GLOBAL) or {}
    bandit = ArmCounts()
    for creative_id, counts in everything.items():
        held = holdout.get(creative_id, ArmCounts())
        bandit = bandit + ArmCounts(max(counts.impressions - held.impressions, 0), max(counts.clicks - held.clicks, 0))
    return {"bandit": bandit, "holdout": sum(holdout.values(), ArmCounts())}


def lift_from_counts(bandit: ArmCounts, holdout: ArmCounts) -> Lift:
    """Relative lift of the bandit's click-through over the holdout's, with its 95% interval."""
    bandit, holdout = bandit.clamped(), holdout.clamped()
    return lift_over_holdout(bandit.clicks, bandit.impressions, holdout.clicks, holdout.impressions)


def lift_summary(segments: Mapping[str, Mapping[str, ArmCounts]]) -> Optional[dict]:
    """The lift to date as a JSON-ready dict, or None while no holdout data exists."""
    split = holdout_counts(segments)
    if split is None:
        return None
    lift = lift_from_counts(split["bandit"], split["holdout"])
    return {
        "bandit": {"impressions": split["bandit"].impressions, "clicks": split["bandit"].clicks},
        "holdout": {"impressions": split["holdout"].impressions, "clicks": split["holdout"].clicks},
        **{k: (round(v, 6) if isinstance(v, float) else v) for k, v in lift.as_dict().items() if k != "ci"},
        "ci": None if lift.ci_low is None else [round(lift.ci_low, 6), round(lift.ci_high, 6)],
    }
