"""Decision core of slotbandit: Thompson sampling on Beta posteriors of click rates.

Read in this order:

    beta        counts of a creative and the Beta posterior of its click rate
    pooling     empirical-Bayes pooling of a sparse city toward the slot-wide posterior
    priors      priors seeded from history, capped so that history never freezes learning
    thompson    Thompson draws and the choice probabilities (propensities) they imply
    policy      the decision the service makes for one request, with its propensity
    simulation  synthetic visitors with known click rates, and a run of the policy
    report      the score of such a run

Only numpy and scipy are used here; storage and HTTP live in the app.
"""

from bandit.beta import ArmCounts, BetaPosterior
from bandit.cache import LruCache
from bandit.policy import (
    GLOBAL,
    Decision,
    SlotSnapshot,
    ThompsonConfig,
    ThompsonPolicy,
    family_prior_strength,
    posteriors_for,
    segment_family,
)
from bandit.pooling import (
    PoolingConfig,
    estimate_prior_strength,
    pooled_posterior,
    slot_prior_strength,
)
from bandit.report import CityResult, SimulationReport
from bandit.simulation import SyntheticWorld, demo_world, run_in_process
from bandit.thompson import ThompsonDraws, choice_probabilities, thompson_draw

__all__ = [
    "GLOBAL",
    "ArmCounts",
    "BetaPosterior",
    "CityResult",
    "Decision",
    "LruCache",
    "PoolingConfig",
    "SimulationReport",
    "SlotSnapshot",
    "SyntheticWorld",
    "ThompsonConfig",
    "ThompsonDraws",
    "ThompsonPolicy",
    "choice_probabilities",
    "demo_world",
    "estimate_prior_strength",
    "family_prior_strength",
    "pooled_posterior",
    "posteriors_for",
    "run_in_process",
    "segment_family",
    "slot_prior_strength",
    "thompson_draw",
]
