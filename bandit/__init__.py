"""Decision core of slotbandit: Thompson sampling on Beta posteriors of click rates and revenue.

Read in this order:

    beta        counts of a creative and the Beta posterior of its click rate
    pooling     empirical-Bayes pooling of a sparse city toward the slot-wide posterior
    priors      priors seeded from history, capped so that history never freezes learning
    discount    evidence weighed by its age (a half-life), summed over time buckets
    sampling    Thompson draws and the choice probabilities (propensities) they imply
    policies    the decision the service makes for one request, with its propensity:
                base (snapshot, segments, posteriors), thompson (clicks), revenue (offers),
                exploration (a floor on every creative's share)
    ope         off-policy evaluation of a candidate policy on a logged data set
    sim         simulators with known truth (never imported by the service)

Only numpy and scipy are used here; storage and HTTP live in the app.
"""

from bandit.beta import ArmCounts, BetaPosterior
from bandit.lru import LruCache
from bandit.policies import (
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
from bandit.sampling import ThompsonDraws, choice_probabilities, thompson_draw

__all__ = [
    "GLOBAL",
    "ArmCounts",
    "BetaPosterior",
    "Decision",
    "LruCache",
    "PoolingConfig",
    "SlotSnapshot",
    "ThompsonConfig",
    "ThompsonDraws",
    "ThompsonPolicy",
    "choice_probabilities",
    "estimate_prior_strength",
    "family_prior_strength",
    "pooled_posterior",
    "posteriors_for",
    "segment_family",
    "slot_prior_strength",
    "thompson_draw",
]
