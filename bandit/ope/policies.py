"""Candidate policies to evaluate on a log: what each would show, as probabilities per row.

Every candidate answers one question through ``action_probabilities(log, action_space)``: the
(n, K) matrix pi(a | x_i) over the K actions of action_space for the context x_i of every row.
Rows sum to 1. Policies that learn (most popular, Thompson) are fitted on the whole log first,
so they are evaluated as the snapshot they would be after seeing it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from bandit.beta import ArmCounts, BetaPosterior
from bandit.ope.log import GLOBAL_CONTEXT, BanditLog
from bandit.pooling import PoolingConfig, pooled_posterior, slot_prior_strength
from bandit.sampling import choice_probabilities

__all__ = [
    "CandidatePolicy",
    "FixedCandidate",
    "MostPopularCandidate",
    "ThompsonCandidate",
    "UniformCandidate",
]


class CandidatePolicy(ABC):
    """A policy whose value is estimated from a log collected by another one."""

    def required_actions(self) -> tuple[str, ...]:
        """Actions the policy may choose even when the log never shows them."""
        return ()

    @abstractmethod
    def action_probabilities(self, log: BanditLog, action_space: Sequence[str]) -> np.ndarray:
        """pi(a | x_i) as an (n, K) matrix whose rows sum to 1."""


class UniformCandidate(CandidatePolicy):
    """Every action of the action space with probability 1 / K, in every context."""

    def action_probabilities(self, log: BanditLog, action_space: Sequence[str]) -> np.ndarray:
        return np.full((log.n, len(action_space)), 1.0 / len(action_space))


@dataclass(frozen=True)
class FixedCandidate(CandidatePolicy):
    """Always the same action."""

    action: str

    def __post_init__(self) -> None:
        if not self.action:
            raise ValueError("action must be a non-empty string, but '' is given")

    def required_actions(self) -> tuple[str, ...]:
        return (self.action,)

    def action_probabilities(self, log: BanditLog, action_space: Sequence[str]) -> np.ndarray:
        matrix = np.zeros((log.n, len(action_space)))
        matrix[:, list(action_space).index(self.action)] = 1.0
        return matrix


class MostPopularCandidate(CandidatePolicy):
    """The naive baseline: always the action with the largest total reward (most clicks) in the log.

    Ties go to the action shown most often, then to the first name in sorted order.
    """

    def chosen_action(self, log: BanditLog) -> str:
        """The action with the most reward in the log."""
        actions = log.action_space()
        index = log.action_indices(actions)
        reward = np.bincount(index, weights=log.rewards, minlength=len(actions))
        shown = np.bincount(index, minlength=len(actions))
        best = max(range(len(actions)), key=lambda i: (reward[i], shown[i], -i))
        return actions[best]

    def action_probabilities(self, log: BanditLog, action_space: Sequence[str]) -> np.ndarray:
        return FixedCandidate(self.chosen_action(log)).action_probabilities(log, action_space)


@dataclass(frozen=True)
class ThompsonCandidate(CandidatePolicy):
    """Thompson sampling on Beta posteriors fitted on the log, per context.

    A reward > 0 counts as a click. The slot-wide posterior of action a is
    Beta(alpha0_a + k_a, beta0_a + n_a - k_a) with the prior (alpha0_a, beta0_a) from priors
    (Beta(1, 1) for actions not listed). A context other than "global" pools its own counts toward
    it with strength s (see bandit.pooling): Beta(m_a s + k_xa, (1 - m_a) s + n_xa - k_xa).
    s is strength when given, else fitted from the spread between contexts. The probabilities are
    P(a has the largest draw), by Monte Carlo with n_draws draws from a generator seeded with seed
    (standard error <= sqrt(0.25 / n_draws)).
    """

    priors: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    strength: float | None = None
    n_draws: int = 10_000
    seed: int = 0

    def __post_init__(self) -> None:
        for action, (alpha, beta) in self.priors.items():
            BetaPosterior(alpha, beta)  # validates both > 0 with a clear message
        if self.strength is not None and not self.strength > 0:
            raise ValueError(f"strength must be > 0, but {self.strength} is given")
        if self.n_draws < 1:
            raise ValueError(f"n_draws must be >= 1, but {self.n_draws} is given")

    def action_probabilities(self, log: BanditLog, action_space: Sequence[str]) -> np.ndarray:
        contexts, context_index = log.context_indices()
        counts = _counts(log, action_space, contexts, context_index)
        parents = [
            BetaPosterior.from_counts(sum((counts[c][a] for c in range(len(contexts))), ArmCounts()),
                                      *self.priors.get(action, (1.0, 1.0)))
            for a, action in enumerate(action_space)
        ]
        strength = self.strength if self.strength is not None else _fitted_strength(counts, action_space)
        rng = np.random.default_rng(self.seed)
        per_context = np.empty((len(contexts), len(action_space)))
        for c, context in enumerate(contexts):
            if context == GLOBAL_CONTEXT:
                posteriors = parents
            else:
                posteriors = [pooled_posterior(counts[c][a], parents[a], strength) for a in range(len(action_space))]
            per_context[c] = choice_probabilities(
                np.array([p.alpha for p in posteriors]), np.array([p.beta for p in posteriors]), rng, self.n_draws
            )
        return per_context[context_index]


def _counts(log: BanditLog, action_space: Sequence[str], contexts: Sequence[str],
            context_index: np.ndarray) -> list[list[ArmCounts]]:
    """counts[context][action]: rows and rows with a reward > 0."""
    action_index = log.action_indices(action_space)
    cell = context_index * len(action_space) + action_index
    size = len(contexts) * len(action_space)
    shown = np.bincount(cell, minlength=size).reshape(len(contexts), len(action_space))
    clicked = np.bincount(cell, weights=(log.rewards > 0), minlength=size).reshape(shown.shape)
    return [[ArmCounts(int(shown[c, a]), int(clicked[c, a])) for a in range(len(action_space))]
            for c in range(len(contexts))]


def _fitted_strength(counts: list[list[ArmCounts]], action_space: Sequence[str]) -> float:
    """The beta-binomial moment estimate of the pooling strength across contexts (bandit.pooling)."""
    by_action = {action: [row[a] for row in counts] for a, action in enumerate(action_space)}
    return slot_prior_strength(by_action, PoolingConfig())
