"""A synthetic world whose policy values are known exactly, and logs drawn from it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bandit.ope import BanditLog, CandidatePolicy

CONTEXTS = ("city:a", "city:b", "city:c")
ACTIONS = ("x", "y", "z", "w")
CONTEXT_SHARE = np.array([0.5, 0.3, 0.2])
# True click rates per (context, action): every context has another best action.
RATES = np.array([
    [0.10, 0.30, 0.05, 0.20],
    [0.40, 0.10, 0.15, 0.05],
    [0.05, 0.10, 0.50, 0.25],
])
# The logging policy per context: far from uniform and far from the best actions, but never 0.
LOGGING = np.array([
    [0.55, 0.10, 0.25, 0.10],
    [0.10, 0.60, 0.20, 0.10],
    [0.40, 0.35, 0.05, 0.20],
])


@dataclass(frozen=True)
class TablePolicy(CandidatePolicy):
    """A candidate given by a fixed table pi[context, action] over CONTEXTS x ACTIONS."""

    table: np.ndarray

    def action_probabilities(self, log, action_space):
        assert tuple(action_space) == tuple(sorted(ACTIONS))
        order = [ACTIONS.index(a) for a in action_space]
        rows = np.array([CONTEXTS.index(c) for c in log.contexts])
        return self.table[rows][:, order]


def true_value(table: np.ndarray) -> float:
    """V(pi) = sum_x P(x) sum_a pi(a | x) theta(x, a): exact."""
    return float(CONTEXT_SHARE @ (table * RATES).sum(axis=1))


def draw_log(n: int, rng: np.random.Generator, logging: np.ndarray = LOGGING) -> BanditLog:
    """n decisions of the logging policy with their Bernoulli rewards."""
    context = rng.choice(len(CONTEXTS), size=n, p=CONTEXT_SHARE)
    cumulative = logging[context].cumsum(axis=1)
    action = (rng.random(n)[:, None] > cumulative).sum(axis=1)
    reward = (rng.random(n) < RATES[context, action]).astype(float)
    return BanditLog.from_columns(
        actions=[ACTIONS[a] for a in action], rewards=reward, propensities=logging[context, action],
        contexts=[CONTEXTS[c] for c in context],
    )


UNIFORM_TABLE = np.full((3, 4), 0.25)
BEST_TABLE = np.eye(4)[RATES.argmax(axis=1)]  # the oracle: each context's best action
MIXED_TABLE = np.array([[0.1, 0.7, 0.1, 0.1], [0.6, 0.2, 0.1, 0.1], [0.0, 0.0, 0.8, 0.2]])
