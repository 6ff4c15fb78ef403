"""Counts of one creative and the Beta posterior of its click rate.

A creative shown n times and clicked k times has the binomial likelihood
theta^k (1 - theta)^(n - k) in its click rate theta. With a Beta(a0, b0) prior
the posterior is again a Beta distribution (the Beta family is conjugate):

    theta | k, n  ~  Beta(a0 + k, b0 + n - k)

so updating a posterior is adding clicks to alpha and non-clicks to beta.
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy import stats

from bandit.checks import require_count, require_positive, require_probability_level

__all__ = ["ArmCounts", "BetaPosterior"]


@dataclass(frozen=True)
class ArmCounts:
    """Impressions and clicks of one creative in one segment.

    Storage counts impressions and clicks separately, so for a short while clicks
    may exceed impressions (a click can be counted before its impression).
    Call clamped() before reading the counts as a binomial experiment.
    """

    impressions: int = 0
    clicks: int = 0

    def __post_init__(self) -> None:
        require_count("impressions", self.impressions)
        require_count("clicks", self.clicks)

    def clamped(self) -> ArmCounts:
        """The same counts with 0 <= clicks <= impressions."""
        if self.clicks <= self.impressions:
            return self
        return ArmCounts(impressions=self.impressions, clicks=self.impressions)

    def __add__(self, other: ArmCounts) -> ArmCounts:
        """Counts of two disjoint sets of impressions together."""
        if not isinstance(other, ArmCounts):
            return NotImplemented
        return ArmCounts(
            impressions=self.impressions + other.impressions,
            clicks=self.clicks + other.clicks,
        )


@dataclass(frozen=True)
class BetaPosterior:
    """Beta(alpha, beta) belief about one click rate."""

    alpha: float
    beta: float

    def __post_init__(self) -> None:
        require_positive("alpha", self.alpha)
        require_positive("beta", self.beta)

    @classmethod
    def from_counts(
        cls, counts: ArmCounts, prior_alpha: float = 1.0, prior_beta: float = 1.0
    ) -> BetaPosterior:
        """Posterior after observing counts under a Beta(prior_alpha, prior_beta) prior.

            alpha = prior_alpha + k,   beta = prior_beta + n - k

        with n impressions and k clicks (clicks clamped to [0, n] first).
        Beta(1, 1) is the uniform prior: every click rate equally plausible.
        """
        observed = counts.clamped()
        return cls(
            alpha=prior_alpha + observed.clicks,
            beta=prior_beta + observed.impressions - observed.clicks,
        )

    @property
    def mean(self) -> float:
        """E[theta] = alpha / (alpha + beta)."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def variance(self) -> float:
        """Var[theta] = alpha beta / ((alpha + beta)^2 (alpha + beta + 1))."""
        total = self.alpha + self.beta
        return self.alpha * self.beta / (total * total * (total + 1.0))

    def credible_interval(self, level: float = 0.95) -> tuple[float, float]:
        """Equal-tailed interval holding the click rate with probability level.

            [F^-1((1 - level) / 2), F^-1((1 + level) / 2)]

        where F^-1 is the Beta(alpha, beta) quantile function. Its width shrinks
        roughly like 1 / sqrt(n) as impressions n accumulate.
        """
        require_probability_level("level", level)
        tail = (1.0 - level) / 2.0
        lower, upper = stats.beta.ppf([tail, 1.0 - tail], self.alpha, self.beta)
        return float(lower), float(upper)
