"""Off-policy evaluation: what a candidate policy would have earned, estimated from a log.

    log          BanditLog: context, action, reward and propensity per decision
    policies     candidates: uniform, most popular, fixed action, Thompson sampling
    estimators   IPS, self-normalised IPS, doubly robust, with bootstrap intervals
    overlap      warnings when the log says little about the candidate
    evaluation   evaluate_policy: all of the above for one candidate

Pure numpy: the files a log comes from are read by the app.
"""

from bandit.ope.estimators import ESTIMATORS, Estimate, RewardModel, bootstrap_estimates, point_estimates
from bandit.ope.evaluation import Evaluation, evaluate_policy
from bandit.ope.log import GLOBAL_CONTEXT, BanditLog
from bandit.ope.overlap import OverlapThresholds, effective_sample_size, overlap_warnings, unsupported_mass
from bandit.ope.policies import (
    CandidatePolicy,
    FixedCandidate,
    MostPopularCandidate,
    ThompsonCandidate,
    UniformCandidate,
)

__all__ = [
    "ESTIMATORS",
    "GLOBAL_CONTEXT",
    "BanditLog",
    "CandidatePolicy",
    "Estimate",
    "Evaluation",
    "FixedCandidate",
    "MostPopularCandidate",
    "OverlapThresholds",
    "RewardModel",
    "ThompsonCandidate",
    "UniformCandidate",
    "bootstrap_estimates",
    "effective_sample_size",
    "evaluate_policy",
    "overlap_warnings",
    "point_estimates",
    "unsupported_mass",
]
