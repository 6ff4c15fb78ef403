"""Evaluate one candidate policy on a log: the three estimates, their intervals, overlap warnings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bandit.ope.estimators import Estimate, RewardModel, bootstrap_estimates, importance_weights
from bandit.ope.log import BanditLog
from bandit.ope.overlap import OverlapThresholds, overlap_warnings
from bandit.ope.policies import CandidatePolicy

__all__ = ["Evaluation", "evaluate_policy"]


@dataclass(frozen=True)
class Evaluation:
    """IPS, SNIPS and DR estimates of one policy on one log, and what to beware of."""

    n: int
    estimates: dict[str, Estimate]
    warnings: list[str]


def evaluate_policy(
    log: BanditLog,
    candidate: CandidatePolicy,
    n_bootstrap: int = 1000,
    seed: int = 0,
    thresholds: OverlapThresholds = OverlapThresholds(),
    progress: Callable[[int, int], None] | None = None,
) -> Evaluation:
    """Estimate the candidate's value (mean reward per decision) from the log.

    The action space is every logged action plus those the candidate requires (a fixed action
    the log never shows). The bootstrap draws from numpy's generator seeded with seed, so the same
    inputs always give the same intervals. progress(done, n_bootstrap) follows the bootstrap.
    """
    action_space = log.action_space(candidate.required_actions())
    target = candidate.action_probabilities(log, action_space)
    logged_action = log.action_indices(action_space)
    q = RewardModel.fit(log, action_space).predict(log)
    estimates = bootstrap_estimates(log, target, logged_action, q, n_bootstrap, np.random.default_rng(seed),
                                    progress=progress)
    weights = importance_weights(target, logged_action, log.propensities)
    return Evaluation(log.n, estimates, overlap_warnings(log, target, logged_action, weights, thresholds))
