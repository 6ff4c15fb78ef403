"""The four factors of an offer's revenue and their posteriors.

An offer shown once earns, over the slot's horizon,

    value = p(click) x p(purchase | click) x (1 - p(refund | purchase)) x E(revenue | purchase)

Each factor has its own conjugate posterior, updated from the offer's counts in one segment:

    p(click)              Beta(a0 + clicks, b0 + impressions - clicks)            (bandit.beta)
    p(purchase | click)   Beta(a0 + purchases, b0 + clicks - purchases)
    p(refund | purchase)  Beta(a0 + refunds, b0 + purchases - refunds)
    E(revenue | purchase) Normal-Gamma on the amounts of the purchases (NormalGamma)

purchases and refunds are sums of attribution credit (a purchase joined to two clicked
decisions gives each 1/2), so the Beta counts may be fractional; the Beta update is the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bandit.checks import require_positive
from bandit.beta import BetaPosterior

__all__ = ["NormalGamma", "RevenueTotals", "pooled_beta", "pooled_normal_gamma"]


@dataclass(frozen=True)
class RevenueTotals:
    """Sums over the attribution labels of one creative in one segment (bandit.attribution).

    purchases: credit of the original purchases (1/k each when k decisions share one).
    refunds: credit x refunded share of each purchase (0..1).
    gross: credit x amount of each purchase (its repeats within the horizon included).
    gross_sq: credit x amount^2, for the spread of the amounts.
    """

    purchases: float = 0.0
    refunds: float = 0.0
    gross: float = 0.0
    gross_sq: float = 0.0

    def __post_init__(self) -> None:
        for name in ("purchases", "refunds", "gross", "gross_sq"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, but {value!r} is given")
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"{name} must be finite and >= 0, but {value} is given")

    def __add__(self, other: RevenueTotals) -> RevenueTotals:
        """Totals of two disjoint sets of labels together."""
        if not isinstance(other, RevenueTotals):
            return NotImplemented
        return RevenueTotals(
            self.purchases + other.purchases,
            self.refunds + other.refunds,
            self.gross + other.gross,
            self.gross_sq + other.gross_sq,
        )


@dataclass(frozen=True)
class NormalGamma:
    """Normal-Gamma belief about the mean amount mu of one purchase.

    Amounts x ~ Normal(mu, 1 / tau) with

        tau ~ Gamma(alpha, rate=beta),   mu | tau ~ Normal(mu0, 1 / (kappa tau)),

    so kappa acts as the number of purchases the prior is worth and beta / (alpha - 1) is
    the expected variance of one amount. Why this model: the sufficient statistics of
    weighted amounts are exactly what attribution keeps (Σ credit, Σ credit x, Σ credit x^2),
    the update is closed form, and the prior mean can sit at the offer's price. A price is
    positive, so draws of mu below 0 (possible only far in the tails) count as 0.
    """

    mu: float
    kappa: float
    alpha: float
    beta: float

    def __post_init__(self) -> None:
        if not math.isfinite(self.mu):
            raise ValueError(f"mu must be finite, but {self.mu} is given")
        require_positive("kappa", self.kappa)
        require_positive("alpha", self.alpha)
        require_positive("beta", self.beta)

    @classmethod
    def around(cls, mean: float, spread: float, strength: float, alpha: float = 2.0) -> NormalGamma:
        """A prior centred on mean, worth strength purchases, expecting amounts of sd spread.

        beta = (alpha - 1) spread^2 makes E[1 / tau] = beta / (alpha - 1) = spread^2.
        alpha = 2 is the smallest integer shape with a finite E[1 / tau]: a weak prior.
        """
        return cls(mu=mean, kappa=strength, alpha=alpha, beta=(alpha - 1.0) * spread * spread)

    def updated(self, weight: float, total: float, total_sq: float) -> NormalGamma:
        """The posterior after amounts with Σ w = weight, Σ w x = total, Σ w x^2 = total_sq.

            x_bar = total / weight,   SS = total_sq - weight x_bar^2
            kappa' = kappa + weight,   mu' = (kappa mu + weight x_bar) / kappa'
            alpha' = alpha + weight / 2
            beta'  = beta + SS / 2 + kappa weight (x_bar - mu)^2 / (2 kappa')
        """
        if weight <= 0.0:
            return self
        x_bar = total / weight
        spread = max(total_sq - weight * x_bar * x_bar, 0.0)
        kappa = self.kappa + weight
        shift = self.kappa * weight * (x_bar - self.mu) ** 2 / (2.0 * kappa)
        return NormalGamma(
            mu=(self.kappa * self.mu + weight * x_bar) / kappa,
            kappa=kappa,
            alpha=self.alpha + weight / 2.0,
            beta=self.beta + spread / 2.0 + shift,
        )

    @property
    def expected_variance(self) -> float:
        """E[1 / tau] = beta / (alpha - 1), the variance of one amount (beta when alpha <= 1)."""
        return self.beta / (self.alpha - 1.0) if self.alpha > 1.0 else self.beta


def draw_means(
    mu: np.ndarray,
    kappa: np.ndarray,
    alpha: np.ndarray,
    beta: np.ndarray,
    rng: np.random.Generator,
    n: int,
) -> np.ndarray:
    """(n, K) draws of the mean amount of K Normal-Gamma posteriors, floored at 0.

        tau ~ Gamma(alpha, scale = 1 / beta),   mu ~ Normal(mu', 1 / sqrt(kappa tau))
    """
    tau = rng.gamma(alpha, 1.0 / beta, size=(n, mu.size))
    means = rng.normal(mu, 1.0 / np.sqrt(kappa * tau))
    return np.maximum(means, 0.0)


def pooled_beta(
    successes: float, trials: float, parent: BetaPosterior, strength: float
) -> BetaPosterior:
    """bandit.pooling.pooled_posterior for fractional counts.

        Beta(m s + k, (1 - m) s + n - k),   m = parent mean, s = strength,

    with k clamped to [0, n].
    """
    require_positive("strength", strength)
    k = min(max(successes, 0.0), max(trials, 0.0))
    m = parent.mean
    return BetaPosterior(alpha=m * strength + k, beta=(1.0 - m) * strength + max(trials, 0.0) - k)


def pooled_normal_gamma(parent: NormalGamma, strength: float) -> NormalGamma:
    """The prior of a leaf segment's amount: centred on the slot-wide posterior.

    Mean mu of the parent, worth min(strength, parent kappa) purchases (a leaf never trusts
    the parent more than the parent trusts its own data), expecting the parent's spread.
    """
    require_positive("strength", strength)
    spread = math.sqrt(parent.expected_variance)
    return NormalGamma.around(parent.mu, spread, min(strength, parent.kappa))
