"""Beta priors of a slot fitted from historical counts (empirical Bayes), with a capped strength.

History tells where each creative's click rate probably lies, but the world it came from may
have changed. So a seeded prior keeps the history's MEAN but never more than max_strength
pseudo-impressions of WEIGHT: after max_strength live impressions the live data has as much
say as all of history, and learning can never freeze.

For one slot, with k_cj clicks in n_cj impressions of creative j in city c:

    slot-wide prior of j     Beta(1 + k_j, 1 + n_j - k_j)            (k_j, n_j summed over cities)
    city prior of (c, j)     Beta(m_j s + k_cj, (1 - m_j) s + n_cj - k_cj)
    unseen city, known j     Beta(m_j s, (1 - m_j) s)                 (the pooled prior)
    unseen creative j        Beta(p s0, (1 - p) s0)                   (p predicted from features)

where m_j is the mean of j's slot-wide prior and s is the between-city strength of the
beta-binomial method-of-moments fit in bandit.pooling (slot_prior_strength). Every prior is
then capped: when alpha + beta > max_strength both are scaled by max_strength / (alpha + beta),
which keeps the mean and lowers the weight.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional

from bandit.checks import require_positive
from bandit.beta import ArmCounts, BetaPosterior
from bandit.policies import GLOBAL
from bandit.pooling import PoolingConfig, slot_prior_strength

__all__ = ["PriorConfig", "SeededPrior", "SlotPriors", "cap_strength", "fit_slot_priors"]

CITY_PREFIX = "city:"

# Sources of a seeded prior, as reported to the operator.
HISTORY = "history"
POOLED = "pooled"
COLD_START = "cold-start"


@dataclass(frozen=True)
class PriorConfig:
    """How strong seeded priors may be.

    max_strength: cap on alpha + beta of every seeded prior (pseudo-impressions).
    cold_start_strength: alpha + beta of a prior predicted for a creative without history.
    pooling: bounds of the between-city strength s.
    """

    max_strength: float = 50.0
    cold_start_strength: float = 5.0
    pooling: PoolingConfig = field(default_factory=PoolingConfig)

    def __post_init__(self) -> None:
        require_positive("max_strength", self.max_strength)
        require_positive("cold_start_strength", self.cold_start_strength)
        if self.max_strength < 2.0:
            raise ValueError(f"max_strength must be at least 2, but {self.max_strength} is given")


@dataclass(frozen=True)
class SeededPrior:
    """The prior of one creative in one segment ('global' or 'city:<c>') and where it came from."""

    segment: str
    creative_id: str
    prior: BetaPosterior
    source: str  # history | pooled | cold-start


@dataclass(frozen=True)
class SlotPriors:
    """Every seeded prior of a slot and the between-city strength s used for them."""

    priors: tuple[SeededPrior, ...]
    city_strength: float

    def get(self, segment: str, creative_id: str) -> Optional[SeededPrior]:
        """The prior of a creative in a segment, or None when none was seeded."""
        return next(
            (p for p in self.priors if p.segment == segment and p.creative_id == creative_id), None
        )


RatePredictor = Callable[[Optional[str], str], float]


def cap_strength(prior: BetaPosterior, max_strength: float) -> BetaPosterior:
    """The same mean with alpha + beta at most max_strength.

    Beta(a, b) with a + b = w > K becomes Beta(a K / w, b K / w): mean a / w unchanged.
    """
    weight = prior.alpha + prior.beta
    if weight <= max_strength:
        return prior
    scale = max_strength / weight
    return BetaPosterior(alpha=prior.alpha * scale, beta=prior.beta * scale)


def fit_slot_priors(
    slot_history: Mapping[str, ArmCounts],
    city_history: Mapping[str, Mapping[str, ArmCounts]],
    creative_ids: Sequence[str],
    cities: Sequence[str],
    config: PriorConfig,
    predict: Optional[RatePredictor] = None,
) -> SlotPriors:
    """Priors for every creative slot-wide and in every city.

    slot_history: {creative_id: counts over every usable row of the slot}, including cities
    folded into the slot-wide level. city_history: {city: {creative_id: counts}} of the cities
    kept at city level. creative_ids: the slot's creatives (those without history are cold
    starts). cities: the cities to seed (with or without history). predict(city, creative_id)
    gives the click rate of a pair without history (city None: slot-wide); without it such
    creatives are left unseeded.
    """
    strength = _city_strength(city_history, config)
    slot_priors = {
        cid: _slot_prior(cid, slot_history.get(cid, ArmCounts()), config, predict)
        for cid in creative_ids
    }
    seeded = [p for p in slot_priors.values() if p is not None]
    for city in cities:
        for cid in creative_ids:
            prior = _city_prior(
                city, cid, city_history.get(city, {}), slot_priors[cid], strength, config, predict
            )
            if prior is not None:
                seeded.append(prior)
    return SlotPriors(priors=tuple(seeded), city_strength=strength)


def _city_strength(city_history: Mapping[str, Mapping[str, ArmCounts]], config: PriorConfig) -> float:
    """s from the spread of each creative's rate across cities, capped at max_strength."""
    by_creative: dict[str, list[ArmCounts]] = {}
    for counts_by_creative in city_history.values():
        for cid, counts in counts_by_creative.items():
            by_creative.setdefault(cid, []).append(counts)
    return min(slot_prior_strength(by_creative, config.pooling), config.max_strength)


def _slot_prior(
    creative_id: str, counts: ArmCounts, config: PriorConfig, predict: Optional[RatePredictor]
) -> Optional[SeededPrior]:
    """Beta(1 + k, 1 + n - k) capped; a predicted prior at cold_start_strength without history."""
    observed = counts.clamped()
    if observed.impressions > 0:
        prior = BetaPosterior.from_counts(observed, 1.0, 1.0)
        return SeededPrior(GLOBAL, creative_id, cap_strength(prior, config.max_strength), HISTORY)
    if predict is None:
        return None
    return SeededPrior(GLOBAL, creative_id, _predicted(predict(None, creative_id), config), COLD_START)


def _city_prior(
    city: str,
    creative_id: str,
    counts_by_creative: Mapping[str, ArmCounts],
    slot_prior: Optional[SeededPrior],
    strength: float,
    config: PriorConfig,
    predict: Optional[RatePredictor],
) -> Optional[SeededPrior]:
    """History pooled toward the slot-wide mean; the pooled prior alone; or a cold start."""
    segment = CITY_PREFIX + city
    if slot_prior is None:
        return None
    if slot_prior.source == COLD_START:
        if predict is None:
            return None
        return SeededPrior(segment, creative_id, _predicted(predict(city, creative_id), config), COLD_START)
    m = slot_prior.prior.mean
    observed = counts_by_creative.get(creative_id, ArmCounts()).clamped()
    prior = BetaPosterior(
        alpha=m * strength + observed.clicks,
        beta=(1.0 - m) * strength + observed.impressions - observed.clicks,
    )
    source = HISTORY if observed.impressions > 0 else POOLED
    return SeededPrior(segment, creative_id, cap_strength(prior, config.max_strength), source)


def _predicted(rate: float, config: PriorConfig) -> BetaPosterior:
    """Beta(p s0, (1 - p) s0) with p clipped into [0.001, 0.999] so both parameters stay positive."""
    p = min(max(float(rate), 0.001), 0.999)
    s0 = min(config.cold_start_strength, config.max_strength)
    return BetaPosterior(alpha=p * s0, beta=(1.0 - p) * s0)
