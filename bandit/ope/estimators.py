"""Off-policy estimators of a candidate policy's value from a log of another policy.

With n logged rows (x_i, a_i, r_i, p_i), the candidate's probabilities pi(a | x) and the
importance weight w_i = pi(a_i | x_i) / p_i:

    IPS    V = (1/n) sum_i w_i r_i                       unbiased when p_i > 0 wherever pi > 0
    SNIPS  V = sum_i w_i r_i / sum_i w_i                  slightly biased, far less variance
    DR     V = (1/n) sum_i [ sum_a pi(a | x_i) q(x_i, a) + w_i (r_i - q(x_i, a_i)) ]

DR uses a reward model q (here RewardModel: the mean reward per (context, action), fitted on the
same log); it stays unbiased when either the propensities or q are right, and has lower variance
than IPS when q is good. Confidence intervals are percentile bootstraps over rows, conditional on
the candidate's probabilities and on q (they are not refitted per resample).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bandit.ope.log import BanditLog

__all__ = ["ESTIMATORS", "Estimate", "RewardModel", "bootstrap_estimates", "importance_weights", "point_estimates"]

ESTIMATORS = ("ips", "snips", "dr")
BOOTSTRAP_CELLS = 4_000_000  # resampled rows held in memory at once (32 MB of indices)


@dataclass(frozen=True)
class Estimate:
    """A policy value with its bootstrap confidence interval."""

    value: float
    ci_low: float
    ci_high: float

    def as_dict(self) -> dict:
        return {"value": self.value, "ci95": [self.ci_low, self.ci_high]}


@dataclass(frozen=True)
class RewardModel:
    """q(x, a): the mean reward of action a in context x in the log.

    A (context, action) pair the log never shows gets the action's mean over all contexts, and an
    action the log never shows gets the overall mean reward.
    """

    table: np.ndarray  # (contexts, actions)

    @classmethod
    def fit(cls, log: BanditLog, action_space: Sequence[str]) -> RewardModel:
        contexts, context_index = log.context_indices()
        action_index = log.action_indices(action_space)
        shape = (len(contexts), len(action_space))
        cell = context_index * shape[1] + action_index
        shown = np.bincount(cell, minlength=shape[0] * shape[1]).reshape(shape).astype(float)
        earned = np.bincount(cell, weights=log.rewards, minlength=shape[0] * shape[1]).reshape(shape)
        action_shown, action_earned = shown.sum(axis=0), earned.sum(axis=0)
        overall = log.rewards.mean()
        action_mean = np.where(action_shown > 0, action_earned / np.maximum(action_shown, 1), overall)
        table = np.where(shown > 0, earned / np.maximum(shown, 1), action_mean[None, :])
        return cls(table)

    def predict(self, log: BanditLog) -> np.ndarray:
        """q(x_i, a) for every row i and action a: an (n, K) matrix."""
        _, context_index = log.context_indices()
        return self.table[context_index]


def importance_weights(target: np.ndarray, logged_action: np.ndarray, propensities: np.ndarray) -> np.ndarray:
    """w_i = pi(a_i | x_i) / p_i."""
    return target[np.arange(len(logged_action)), logged_action] / propensities


def _row_terms(log: BanditLog, target: np.ndarray, logged_action: np.ndarray,
               q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row w_i r_i, w_i and the DR term; each estimator is a mean or ratio of these."""
    rows = np.arange(log.n)
    w = importance_weights(target, logged_action, log.propensities)
    dr = (target * q).sum(axis=1) + w * (log.rewards - q[rows, logged_action])
    return w * log.rewards, w, dr


def _estimates(weighted_reward: np.ndarray, w: np.ndarray, dr: np.ndarray, axis: int = -1) -> np.ndarray:
    """[ips, snips, dr] from row terms (along axis); SNIPS is 0 when every weight is 0."""
    total_w = w.sum(axis=axis)
    snips = np.divide(weighted_reward.sum(axis=axis), total_w, out=np.zeros_like(total_w), where=total_w > 0)
    return np.stack([weighted_reward.mean(axis=axis), snips, dr.mean(axis=axis)])


def point_estimates(log: BanditLog, target: np.ndarray, logged_action: np.ndarray, q: np.ndarray) -> dict[str, float]:
    """{"ips": V, "snips": V, "dr": V} on the whole log."""
    values = _estimates(*_row_terms(log, target, logged_action, q))
    return {name: float(v) for name, v in zip(ESTIMATORS, values)}


def bootstrap_estimates(
    log: BanditLog,
    target: np.ndarray,
    logged_action: np.ndarray,
    q: np.ndarray,
    n_bootstrap: int,
    rng: np.random.Generator,
    level: float = 0.95,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Estimate]:
    """Point estimates with percentile bootstrap intervals from n_bootstrap resamples of the rows.

    Each resample draws n rows with replacement, kept as how often each row was drawn (c_i), so
    its sums are one matrix product: sum_i c_i w_i r_i, sum_i c_i w_i, sum_i c_i dr_i. The interval
    is the (1 - level) / 2 and (1 + level) / 2 quantiles of the resampled estimates. progress, when
    given, is called with (resamples done, n_bootstrap) after each batch.
    """
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be >= 1, but {n_bootstrap} is given")
    n = log.n
    terms = np.stack(_row_terms(log, target, logged_action, q))  # (3, n)
    sums = np.empty((n_bootstrap, 3))
    batch = max(1, BOOTSTRAP_CELLS // n)
    for start in range(0, n_bootstrap, batch):
        size = min(batch, n_bootstrap - start)
        drawn = rng.integers(0, n, size=(size, n)) + (np.arange(size) * n)[:, None]
        times_drawn = np.bincount(drawn.ravel(), minlength=size * n).reshape(size, n).astype(float)
        sums[start:start + size] = times_drawn @ terms.T
        if progress is not None:
            progress(start + size, n_bootstrap)
    total_w = sums[:, 1]
    snips = np.divide(sums[:, 0], total_w, out=np.zeros_like(total_w), where=total_w > 0)
    replicates = np.stack([sums[:, 0] / n, snips, sums[:, 2] / n])
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(replicates, [tail, 1.0 - tail], axis=1)
    values = _estimates(*terms)
    return {name: Estimate(float(values[i]), float(low[i]), float(high[i])) for i, name in enumerate(ESTIMATORS)}
