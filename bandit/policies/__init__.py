"""The policies that decide a request: Thompson sampling on clicks, and on an offer's net revenue.

``base`` holds what both share (the slot snapshot, segments, posteriors, the decision);
``thompson`` and ``revenue`` are one policy each, with the same verbs: ``decide`` and
``probabilities``.
"""
from bandit.policies.base import (
    GLOBAL,
    Decision,
    SlotSnapshot,
    ThompsonConfig,
    family_prior_strength,
    posteriors_for,
    segment_family,
)
from bandit.policies.thompson import ThompsonPolicy

__all__ = [
    "GLOBAL",
    "Decision",
    "SlotSnapshot",
    "ThompsonConfig",
    "ThompsonPolicy",
    "family_prior_strength",
    "posteriors_for",
    "segment_family",
]
