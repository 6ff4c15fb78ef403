"""Saved traffic: how much of a slot's traffic the bandit kept away from creatives that lose.

One definition, used by the stats endpoint, the report, the dashboard and report messages.

Traffic is split into *groups*: the impressions one posterior decided (a city's own posterior, or the
slot-wide one). In a group with K creatives, impressions n_j and total N = sum_j n_j, with a
posterior over each creative's value theta_j per impression (click rate, or revenue per impression):

* **Non-performer**: creative j when its 95% posterior upper bound is below the best posterior mean,

      u_j < max_i E[theta_i],     u_j = the upper end of the equal-tailed 95% credible interval

  (the ``ci95`` upper end ``GET /slot/<id>/stats`` shows), i.e. creative j is very probably worse than
  the creative that currently looks best.
* **Saved share** over all groups g, with NP_g the non-performers of group g:

      saved = 1 - (sum_g sum_{j in NP_g} n_gj) / (sum_g N_g |NP_g| / K_g)

  the denominator being what a uniform split over the same K_g creatives would have given them.
  1 means non-performers got nothing; 0 means they got what a uniform split gives; below 0, more.
* **Gain over uniform**: the expected value (clicks or revenue) the service's split earns over a
  uniform split of the same impressions,

      G = sum_g sum_j (n_gj - N_g / K_g) theta_gj,

  reported as its posterior mean E[G] = sum (n_gj - N_g / K_g) E[theta_gj] and an equal-tailed 95%
  interval from joint posterior draws of theta (groups drawn independently).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from bandit.checks import require_probability_level

__all__ = [
    "ArmValues",
    "GroupSavings",
    "Savings",
    "beta_arm_values",
    "drawn_arm_values",
    "group_savings",
    "non_performers",
    "total_savings",
]

LEVEL = 0.95


@dataclass(frozen=True)
class ArmValues:
    """The posterior of each creative's value per impression in one group.

    means[j] = E[theta_j], upper[j] = the 95% upper bound of theta_j, draws[d, j] = joint posterior
    draws (the rows are used for the interval of the gain).
    """

    creative_ids: tuple[str, ...]
    means: np.ndarray
    upper: np.ndarray
    draws: np.ndarray

    def __post_init__(self) -> None:
        k = len(self.creative_ids)
        if self.means.shape != (k,) or self.upper.shape != (k,) or self.draws.ndim != 2 or self.draws.shape[1] != k:
            raise ValueError(f"means, upper and draws must have {k} creatives, but shapes "
                             f"{self.means.shape}, {self.upper.shape}, {self.draws.shape} are given")


def beta_arm_values(creative_ids: Sequence[str], alphas: np.ndarray, betas: np.ndarray, rng: np.random.Generator,
                    n_draws: int = 4000, level: float = LEVEL) -> ArmValues:
    """Click rates under Beta(alpha_j, beta_j) posteriors: exact means alpha / (alpha + beta), exact
    upper bounds (the Beta quantile at (1 + level) / 2) and n_draws independent draws per creative."""
    require_probability_level("level", level)
    alphas, betas = np.asarray(alphas, dtype=float), np.asarray(betas, dtype=float)
    upper = stats.beta.ppf((1.0 + level) / 2.0, alphas, betas) if len(alphas) else np.zeros(0)
    draws = rng.beta(alphas, betas, size=(n_draws, len(alphas))) if len(alphas) else np.zeros((n_draws, 0))
    return ArmValues(tuple(creative_ids), alphas / (alphas + betas), np.asarray(upper, dtype=float), draws)


def drawn_arm_values(creative_ids: Sequence[str], draws: np.ndarray, level: float = LEVEL) -> ArmValues:
    """Values known only through joint draws (e.g. revenue per impression): mean and upper quantile of the draws."""
    require_probability_level("level", level)
    draws = np.asarray(draws, dtype=float)
    upper = np.quantile(draws, (1.0 + level) / 2.0, axis=0) if draws.shape[1] else np.zeros(0)
    return ArmValues(tuple(creative_ids), draws.mean(axis=0), np.asarray(upper, dtype=float), draws)


def non_performers(means: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Boolean mask: u_j < max_i mean_i (never true for the best creative itself, nor with one creative)."""
    means, upper = np.asarray(means, dtype=float), np.asarray(upper, dtype=float)
    if means.size == 0:
        return np.zeros(0, dtype=bool)
    mask = upper < means.max()
    mask[int(np.argmax(means))] = False  # the best creative is never its own non-performer
    return mask


@dataclass(frozen=True)
class GroupSavings:
    """One group: its impressions, the non-performers, what they got and what uniform would have given."""

    name: str  # the posterior that decided the group's traffic, e.g. "global" or "city:pune"
    creative_ids: tuple[str, ...]
    impressions: int
    non_performers: tuple[str, ...]
    non_performer_impressions: int
    uniform_non_performer_impressions: float
    gain_draws: np.ndarray  # G_g per posterior draw
    gain_mean: float  # E[G_g]
    served_value: float  # E[sum_j n_j theta_j]
    uniform_value: float  # E[N / K sum_j theta_j]


def group_savings(values: ArmValues, impressions: Sequence[int], name: str = "") -> GroupSavings:
    """Savings of one group named ``name`` with impressions[j] of values.creative_ids[j]."""
    n = np.asarray(impressions, dtype=float)
    if n.shape != (len(values.creative_ids),) or np.any(n < 0):
        raise ValueError(f"impressions must be {len(values.creative_ids)} counts >= 0, but {list(impressions)} is given")
    k, total = len(n), float(n.sum())
    mask = non_performers(values.means, values.upper)
    uniform_each = total / k if k else 0.0
    excess = n - uniform_each
    return GroupSavings(
        name=name,
        creative_ids=values.creative_ids,
        impressions=int(total),
        non_performers=tuple(c for c, bad in zip(values.creative_ids, mask) if bad),
        non_performer_impressions=int(n[mask].sum()),
        uniform_non_performer_impressions=uniform_each * int(mask.sum()),
        gain_draws=values.draws @ excess if k else np.zeros(values.draws.shape[0]),
        gain_mean=float(values.means @ excess) if k else 0.0,
        served_value=float(values.means @ n) if k else 0.0,
        uniform_value=float(uniform_each * values.means.sum()) if k else 0.0,
    )


@dataclass(frozen=True)
class Savings:
    """Savings over groups. saved_share is None while no group has a non-performer (nothing to save)."""

    impressions: int
    non_performer_impressions: int
    uniform_non_performer_impressions: float
    saved_share: float | None
    gain: float
    gain_ci95: tuple[float, float]
    served_value: float
    uniform_value: float
    groups: tuple[GroupSavings, ...]


def total_savings(groups: Sequence[GroupSavings], level: float = LEVEL) -> Savings:
    """Sum the groups: saved share over all of them, and the gain's mean and interval (draws summed row-wise,
    so every group needs the same number of draws)."""
    require_probability_level("level", level)
    given = sum(g.non_performer_impressions for g in groups)
    uniform = sum(g.uniform_non_performer_impressions for g in groups)
    if groups:
        gain_draws = np.sum([g.gain_draws for g in groups], axis=0)
        tail = (1.0 - level) / 2.0
        low, high = (float(x) for x in np.quantile(gain_draws, [tail, 1.0 - tail]))
    else:
        low = high = 0.0
    return Savings(
        impressions=sum(g.impressions for g in groups),
        non_performer_impressions=given,
        uniform_non_performer_impressions=uniform,
        saved_share=(1.0 - given / uniform) if uniform > 0 else None,
        gain=sum(g.gain_mean for g in groups),
        gain_ci95=(low, high),
        served_value=sum(g.served_value for g in groups),
        uniform_value=sum(g.uniform_value for g in groups),
        groups=tuple(groups),
    )
