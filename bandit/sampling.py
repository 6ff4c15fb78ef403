"""Thompson sampling over Beta posteriors.

Thompson sampling shows each creative with the probability that it is the best
one given what has been seen: draw one click rate from every posterior and show
the creative with the largest draw. That probability,

    P(i) = P(theta_i > theta_j for every j != i),   theta_j ~ Beta(alpha_j, beta_j),

is at once the propensity with which the creative is shown (needed by
off-policy estimators) and the probability that it is the best creative.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from bandit.checks import require_positive_int

__all__ = ["BlockChoices", "ThompsonDraws", "choice_probabilities", "thompson_draw"]


def thompson_draw(alphas: np.ndarray, betas: np.ndarray, rng: np.random.Generator) -> int:
    """One Beta draw per arm; the index of the largest.

        theta_j ~ Beta(alpha_j, beta_j),   choice = argmax_j theta_j
    """
    alphas, betas = _as_arms(alphas, betas)
    return int(np.argmax(rng.beta(alphas, betas)))


class BlockChoices:
    """Choices argmax_j v_j over fresh joint draws v of every arm, made a block at a time.

    draw_block(rng, n) returns an (n, K) matrix of independent draws (one row per round);
    next() hands out the winner of one row at a time and draws a new block when the rows
    are used up, one vectorised call instead of one per decision. Rows are used once, in
    order, so the choices stay independent. Safe to share between threads.
    """

    def __init__(
        self,
        draw_block: Callable[[np.random.Generator, int], np.ndarray],
        block_size: int = 256,
    ) -> None:
        require_positive_int("block_size", block_size)
        self._draw_block = draw_block
        self._block_size = block_size
        self._winners = np.empty(0, dtype=np.intp)
        self._position = 0
        self._lock = threading.Lock()

    def next(self, rng: np.random.Generator) -> int:
        """The index of the arm with the largest draw of one fresh round."""
        with self._lock:
            if self._position >= self._winners.size:
                self._winners = np.argmax(self._draw_block(rng, self._block_size), axis=1)
                self._position = 0
            winner = self._winners[self._position]
            self._position += 1
        return int(winner)


class ThompsonDraws(BlockChoices):
    """Thompson choices for one set of Beta posteriors, drawn a block at a time.

    Each call of next() returns argmax_j theta_j for a fresh theta_j ~ Beta(alpha_j, beta_j),
    exactly like thompson_draw; the draws are only made block_size rows at a time (about
    20 times cheaper per decision for 10 arms).
    """

    def __init__(self, alphas: np.ndarray, betas: np.ndarray, block_size: int = 256) -> None:
        alphas, betas = _as_arms(alphas, betas)

        def draw_block(rng: np.random.Generator, n: int) -> np.ndarray:
            return rng.beta(alphas, betas, size=(n, alphas.size))

        super().__init__(draw_block, block_size)


def choice_probabilities(
    alphas: np.ndarray,
    betas: np.ndarray,
    rng: np.random.Generator,
    n_draws: int = 10_000,
) -> np.ndarray:
    """Monte Carlo estimate of P(arm i has the largest draw), for every arm.

    Draw an (n_draws, K) matrix of click rates at once, take the winning arm of
    every row and count the wins:

        P_hat(i) = #{rows won by i} / n_draws

    The win counts add up to n_draws, so the probabilities sum to 1. Each
    estimate has standard error sqrt(P(i) (1 - P(i)) / n_draws), at most
    sqrt(0.25 / 10_000) = 0.005 for 10,000 draws. Memory: 8 n_draws K bytes.

    A single arm is always chosen ([1.0]); no arms is a ValueError.
    """
    alphas, betas = _as_arms(alphas, betas)
    require_positive_int("n_draws", n_draws)
    n_arms = alphas.size
    if n_arms == 1:
        return np.ones(1)
    draws = rng.beta(alphas, betas, size=(n_draws, n_arms))
    wins = np.bincount(np.argmax(draws, axis=1), minlength=n_arms)
    return wins / n_draws


def _as_arms(alphas: np.ndarray, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both parameter vectors as float arrays of one shape with at least one arm."""
    alphas = np.asarray(alphas, dtype=float)
    betas = np.asarray(betas, dtype=float)
    if alphas.ndim != 1 or alphas.shape != betas.shape:
        raise ValueError(
            "alphas and betas must be 1-d arrays of one length, "
            f"but shapes {alphas.shape} and {betas.shape} are given"
        )
    if alphas.size == 0:
        raise ValueError("at least one arm is needed, but 0 arms are given")
    return alphas, betas
