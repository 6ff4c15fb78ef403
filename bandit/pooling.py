"""Empirical-Bayes pooling of a city toward the slot-wide posterior.

A sparse city has too few impressions to tell its creatives apart, yet cities
resemble each other. Treat the true click rates theta_i of one creative in the
cities i = 1..C as draws from a common Beta distribution

    theta_i ~ Beta(m s, (1 - m) s),   E[theta_i] = m,   Var[theta_i] = m (1 - m) / (s + 1),

where m is the slot-wide click rate and the prior strength s says how alike the
cities are (s behaves like s pseudo-impressions at rate m). Estimate s from
the spread of the observed city rates (beta-binomial method of moments), then
start each city from that prior and add its own counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bandit.checks import require_at_least, require_positive
from bandit.beta import ArmCounts, BetaPosterior

__all__ = [
    "PoolingConfig",
    "estimate_prior_strength",
    "pooled_posterior",
    "slot_prior_strength",
]


@dataclass(frozen=True)
class PoolingConfig:
    """Bounds of the prior strength s.

    min_strength: weakest pooling allowed (cities nearly independent).
    max_strength: strongest pooling allowed (cities nearly identical).
    default_strength: used when the spread between cities cannot be estimated.
    """

    min_strength: float = 2.0
    max_strength: float = 100.0
    default_strength: float = 20.0

    def __post_init__(self) -> None:
        require_positive("min_strength", self.min_strength)
        require_positive("max_strength", self.max_strength)
        require_positive("default_strength", self.default_strength)
        require_at_least("max_strength", self.max_strength, "min_strength", self.min_strength)
        require_at_least(
            "default_strength", self.default_strength, "min_strength", self.min_strength
        )
        require_at_least(
            "max_strength", self.max_strength, "default_strength", self.default_strength
        )


def estimate_prior_strength(city_counts: Sequence[ArmCounts], config: PoolingConfig) -> float:
    """Prior strength s of ONE creative from its counts in several cities.

    Method of moments for the beta-binomial model, with n_i impressions and
    k_i clicks in city i (only cities with impressions), p_i = k_i / n_i:

        N = sum n_i,   m = sum k_i / N                  (pooled click rate)
        S = sum n_i (p_i - m)^2                         (observed spread)
        E[S] = tau^2 (N - sum n_i^2 / N) + (m (1 - m) - tau^2)(C - 1)

    The second term is the binomial noise every city adds even when all share
    one rate. Solving for the between-city variance tau^2 and matching
    tau^2 = m (1 - m) / (s + 1):

        tau^2 = (S - m (1 - m)(C - 1)) / (N - sum n_i^2 / N - (C - 1))
        s     = m (1 - m) / tau^2 - 1,   clipped to [min_strength, max_strength]

    Returns default_strength when fewer than 2 cities have impressions (or every
    city has a single impression), and max_strength when tau^2 <= 0 (the cities
    are indistinguishable from one shared rate).
    """
    strength = _fit_strength(city_counts, config)
    return config.default_strength if strength is None else strength


def slot_prior_strength(
    city_counts_by_creative: Mapping[str, Sequence[ArmCounts]], config: PoolingConfig
) -> float:
    """One prior strength for the whole slot from every creative's city counts.

    The impression-weighted mean of the per-creative estimates s_j,

        s = sum_j N_j s_j / sum_j N_j,

    over the creatives whose spread can be estimated (N_j: their impressions
    in the cities). A mean rather than a median: each s_j is already clipped
    to [min_strength, max_strength], so no single creative can drag it far;
    weighting by impressions gives the precise estimates the most say; and the
    mean moves smoothly as counts arrive, where a median jumps from one
    creative to another. default_strength when no creative can be estimated.
    """
    strengths: list[float] = []
    weights: list[int] = []
    for counts in city_counts_by_creative.values():
        strength = _fit_strength(counts, config)
        if strength is not None:
            strengths.append(strength)
            weights.append(sum(c.impressions for c in counts))
    if not strengths:
        return config.default_strength
    return float(np.average(strengths, weights=weights))


def pooled_posterior(city: ArmCounts, parent: BetaPosterior, strength: float) -> BetaPosterior:
    """Posterior of a city's click rate, shrunk toward the parent with strength s.

    The prior is centred on the parent mean m: Beta(m s, (1 - m) s). Adding the
    city's n impressions and k clicks gives

        Beta(m s + k, (1 - m) s + n - k),   mean = (s m + n (k / n)) / (s + n),

    a weighted average of the parent mean and the city's own rate with weights
    s and n. A city with few impressions stays near the parent; with many, it
    follows its own data. (The parent already includes the city's counts; with
    many cities that double use is negligible.)
    """
    require_positive("strength", strength)
    observed = city.clamped()
    m = parent.mean
    return BetaPosterior(
        alpha=m * strength + observed.clicks,
        beta=(1.0 - m) * strength + observed.impressions - observed.clicks,
    )


def _fit_strength(city_counts: Sequence[ArmCounts], config: PoolingConfig) -> float | None:
    """The clipped moment estimate of s, or None when it cannot be estimated."""
    observed = [c.clamped() for c in city_counts if c.impressions > 0]
    if len(observed) < 2:
        return None
    impressions = np.array([c.impressions for c in observed], dtype=float)
    clicks = np.array([c.clicks for c in observed], dtype=float)
    fit = _between_city_variance(impressions, clicks)
    if fit is None:
        return None
    m, tau2 = fit
    if tau2 <= 0.0:
        return config.max_strength
    strength = m * (1.0 - m) / tau2 - 1.0
    return float(np.clip(strength, config.min_strength, config.max_strength))


def _between_city_variance(
    impressions: np.ndarray, clicks: np.ndarray
) -> tuple[float, float] | None:
    """(m, tau^2) as in estimate_prior_strength; None when the denominator is <= 0."""
    total = impressions.sum()
    m = clicks.sum() / total
    rates = clicks / impressions
    spread = float(np.sum(impressions * (rates - m) ** 2))
    cities_minus_one = len(impressions) - 1
    denominator = total - np.sum(impressions**2) / total - cities_minus_one
    if denominator <= 0.0:
        return None
    tau2 = (spread - m * (1.0 - m) * cities_minus_one) / denominator
    return float(m), float(tau2)
