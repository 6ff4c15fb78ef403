"""Overlap between the logging and the candidate policy: when the estimates cannot be trusted.

Importance weighting only sees what the logging policy showed. Three symptoms of poor overlap:

* the candidate puts mass on actions the log never took in a context: no estimator sees their
  reward (IPS and SNIPS count it as 0; DR falls back on the reward model's guess);
* the effective sample size ESS = (sum w_i)^2 / sum w_i^2 is a small share of n: a few rows with
  large weights carry the estimate;
* the largest weight is large: one row can move IPS by max w / n times its reward.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bandit.ope.log import BanditLog

__all__ = ["OverlapThresholds", "overlap_warnings", "effective_sample_size", "unsupported_mass"]


@dataclass(frozen=True)
class OverlapThresholds:
    """When to warn.

    min_ess_share: ESS / n below this (0.05: fewer than 1 effective row in 20);
    max_unsupported_mass: average candidate mass on never-logged (context, action) pairs above this;
    max_weight_share: max w / n above this (one row moves IPS by more than this times its reward).
    """

    min_ess_share: float = 0.05
    max_unsupported_mass: float = 0.01
    max_weight_share: float = 0.05

    def __post_init__(self) -> None:
        for name in ("min_ess_share", "max_unsupported_mass", "max_weight_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], but {value} is given")


def effective_sample_size(weights: np.ndarray) -> float:
    """(sum w)^2 / sum w^2; n when all weights are equal, 0 when all are 0."""
    squares = float(np.sum(weights**2))
    return float(np.sum(weights)) ** 2 / squares if squares > 0 else 0.0


def unsupported_mass(log: BanditLog, target: np.ndarray, logged_action: np.ndarray) -> float:
    """Average over rows of the candidate's mass on actions never logged in the row's context."""
    contexts, context_index = log.context_indices()
    seen = np.zeros((len(contexts), target.shape[1]), dtype=bool)
    seen[context_index, logged_action] = True
    return float(np.mean(np.sum(target * ~seen[context_index], axis=1)))


def overlap_warnings(log: BanditLog, target: np.ndarray, logged_action: np.ndarray, weights: np.ndarray,
                     thresholds: OverlapThresholds = OverlapThresholds()) -> list[str]:
    """One sentence per symptom of poor overlap (none when overlap is fine)."""
    warnings = []
    mass = unsupported_mass(log, target, logged_action)
    if mass > thresholds.max_unsupported_mass:
        warnings.append(f"poor overlap: the policy puts {mass:.1%} of its mass on (segment, action) pairs the log "
                        "never shows; their reward is unseen (IPS and SNIPS count it as 0, DR guesses it)")
    ess = effective_sample_size(weights)
    if ess < thresholds.min_ess_share * log.n:
        warnings.append(f"poor overlap: effective sample size {ess:.1f} of {log.n} rows "
                        f"({ess / log.n:.1%}); the estimates rest on few rows")
    max_weight = float(weights.max())
    if max_weight > thresholds.max_weight_share * log.n:
        warnings.append(f"poor overlap: the largest importance weight is {max_weight:.1f} "
                        f"({max_weight / log.n:.1%} of n); one row can move IPS by that much")
    return warnings
