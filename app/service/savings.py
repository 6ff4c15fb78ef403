"""Saved traffic of a slot: the definition of ``bandit.savings`` applied to the slot's posteriors.

Traffic is grouped by the posterior that decided it: a city whose own posterior decides (any city leaf
with impressions) is a group; everything else is the slot-wide group ``global``. Each group's
creatives are those eligible there now together with any creative shown in it (a paused creative that
got traffic keeps counting). Posteriors are those of ``GET /slot/<id>/stats`` (counts to date).

``counted_savings`` reads impressions from the counters (to date: the stats endpoint, the dashboard);
``savings_of`` takes impressions per group from elsewhere (the event log of a report's period).
Holdout impressions count as impressions the service gave (they are uniform by design, so a holdout
share h keeps the saved share near 1 - h at most).
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from app.storage import SlotConfig
from app.storage.catalog import REVENUE
from bandit import GLOBAL, SlotSnapshot, posteriors_for, segment_family
from bandit.holdout import HOLDOUT
from bandit.policies.revenue import offer_values, revenue_posteriors
from bandit.savings import ArmValues, Savings, beta_arm_values, drawn_arm_values, group_savings, total_savings

# Joint draws per group for the gain's interval: a 2.5% quantile of 4,000 draws is off by about
# sqrt(0.025 x 0.975 / 4000) = 0.25 percentage points of probability mass.
GAIN_DRAWS = 4000
CITY = "city"


def group_of(snapshot: SlotSnapshot, segment: Optional[str]) -> str:
    """The group of a decision logged with ``segment``: that leaf when its own posterior decides, else global."""
    if not segment or segment in (GLOBAL, HOLDOUT) or not snapshot.has_segment(segment):
        return GLOBAL
    return segment


def counted_impressions(snapshot: SlotSnapshot) -> Dict[str, Dict[str, int]]:
    """{group: {creative: impressions}} from the counters: each city leaf, and global minus the city leaves
    (clamped at 0: two counter rows read a moment apart may disagree by a write)."""
    cities = [s for s in snapshot.segments if s != GLOBAL and segment_family(s) == CITY and snapshot.has_segment(s)]
    groups = {city: {cid: c.impressions for cid, c in snapshot.segments[city].items()} for city in cities}
    rest = {}
    for cid, counts in snapshot.segments.get(GLOBAL, {}).items():
        rest[cid] = max(counts.impressions - sum(groups[city].get(cid, 0) for city in cities), 0)
    groups[GLOBAL] = rest
    return groups


def savings_of(policy_config, revenue_config, slot: SlotConfig, snapshot: SlotSnapshot,
               impressions: Mapping[str, Mapping[str, int]], rng: np.random.Generator) -> Savings:
    """bandit.savings.total_savings over the groups of ``impressions`` ({group: {creative: n}})."""
    groups = []
    for group, by_creative in sorted(impressions.items()):
        city = group[len("city:"):] if group.startswith("city:") else None
        shown = {cid for cid, n in by_creative.items() if n > 0}
        creative_ids = sorted(shown | {c.creative_id for c in slot.eligible(city)})
        if not creative_ids:
            continue
        values = _arm_values(policy_config, revenue_config, slot, snapshot, group, creative_ids, rng)
        groups.append(group_savings(values, [by_creative.get(cid, 0) for cid in creative_ids], group))
    return total_savings(groups)


def counted_savings(rt, slot: SlotConfig, snapshot: SlotSnapshot) -> Dict[str, Any]:
    """The ``savings`` object of GET /slot/<id>/stats: counts to date."""
    rng = np.random.default_rng(0)  # fixed: the same counts always show the same interval
    savings = savings_of(rt.policy.config, rt.revenue_policy.revenue_config, slot, snapshot,
                         counted_impressions(snapshot), rng)
    return savings_dict(savings, slot.objective)


def savings_dict(savings: Savings, objective: str) -> Dict[str, Any]:
    """The JSON form (OpenAPI schema ``Savings``)."""
    groups: List[Dict[str, Any]] = []
    for g in savings.groups:
        share = 1 - g.non_performer_impressions / g.uniform_non_performer_impressions \
            if g.uniform_non_performer_impressions > 0 else None
        groups.append({"segment": g.name, "impressions": g.impressions, "non_performers": list(g.non_performers),
                       "non_performer_impressions": g.non_performer_impressions,
                       "saved_share": _round(share, 4)})
    return {
        "metric": "revenue" if objective == REVENUE else "clicks",
        "impressions": savings.impressions,
        "non_performer_impressions": savings.non_performer_impressions,
        "uniform_non_performer_impressions": round(savings.uniform_non_performer_impressions, 3),
        "saved_share": _round(savings.saved_share, 4),
        "gain": {"value": round(savings.gain, 4), "ci95": [round(x, 4) for x in savings.gain_ci95]},
        "expected": {"served": round(savings.served_value, 4), "uniform": round(savings.uniform_value, 4)},
        "segments": groups,
    }


def _arm_values(policy_config, revenue_config, slot: SlotConfig, snapshot: SlotSnapshot, group: str,
                creative_ids: List[str], rng: np.random.Generator) -> ArmValues:
    if slot.objective == REVENUE:
        prices = {c.creative_id: c.price for c in slot.creatives if c.price}
        _, posteriors = revenue_posteriors(snapshot, group, creative_ids, prices, revenue_config)
        return drawn_arm_values(creative_ids, offer_values(posteriors.draw_factors(rng, GAIN_DRAWS)))
    _, posteriors = posteriors_for(snapshot, group, creative_ids, policy_config)
    return beta_arm_values(creative_ids, np.array([p.alpha for p in posteriors]),
                           np.array([p.beta for p in posteriors]), rng, GAIN_DRAWS)


def _round(value: Optional[float], digits: int) -> Optional[float]:
    return None if value is None else round(value, digits)
