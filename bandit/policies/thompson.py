"""Thompson sampling on the click rates of a slot's creatives (the policy of click slots).

The posteriors of a request come from ``base.posteriors_for``: slot-wide, or a leaf segment pooled
toward the slot-wide posterior. The propensity of a decision is its creative's Monte Carlo choice
probability, computed once per distinct set of posteriors and cached.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Callable

import numpy as np

from bandit.beta import BetaPosterior
from bandit.lru import LruCache
from bandit.policies.base import (
    CACHE_ENTRIES,
    DRAW_BLOCK,
    GLOBAL,
    Arms,
    Decision,
    SlotSnapshot,
    ThompsonConfig,
    click_posteriors,
    family_prior_strength,
    segment_family,
    segment_used,
)
from bandit.sampling import ThompsonDraws, choice_probabilities

__all__ = ["ThompsonPolicy"]

# Rows per slice of a propensity Monte Carlo (see ThompsonPolicy._monte_carlo).
MC_SLICE = 1_000


class ThompsonPolicy:
    """Thompson sampling with cached propensities, shared by the threads of a worker.

    Posteriors are built once per snapshot, segment used and list of creatives;
    the Monte Carlo behind the propensities runs once per distinct set of
    posteriors; every further request takes the next Thompson round of a block
    drawn ahead for those posteriors (ThompsonDraws).
    Both caches are bounded LRU maps behind a lock (CACHE_ENTRIES entries each),
    so one policy can serve every thread of a gunicorn worker.
    """

    def __init__(self, config: ThompsonConfig, rng: np.random.Generator) -> None:
        self._config = config
        self._rng = rng  # numpy serialises draws from one Generator with a lock
        self._arms: LruCache[Arms] = LruCache(CACHE_ENTRIES)
        self._strengths: LruCache[float] = LruCache(CACHE_ENTRIES)
        self._probabilities: LruCache[np.ndarray] = LruCache(CACHE_ENTRIES)

    @property
    def config(self) -> ThompsonConfig:
        return self._config

    def decide(
        self, snapshot: SlotSnapshot, segment: str | None, creative_ids: Sequence[str]
    ) -> Decision:
        """Pick one creative by one Thompson draw over posteriors_for(...).

        The propensity is the cached choice probability of the chosen creative.
        A creative that won none of the Monte Carlo draws gets 1 / (2 n_draws)
        instead of 0, so inverse-propensity weights stay finite.
        """
        return self._decision(self._lookup(snapshot, segment, creative_ids))

    def _decision(self, arms: Arms) -> Decision:
        """The next cached choice of arms, with its floored propensity."""
        index = arms.draws.next(self._rng)
        floor = 0.5 / self._config.propensity_draws
        propensity = max(float(arms.probabilities[index]), floor)
        return Decision(arms.creative_ids[index], arms.segment, propensity)

    def probabilities(
        self, snapshot: SlotSnapshot, segment: str | None, creative_ids: Sequence[str]
    ) -> tuple[str, np.ndarray]:
        """The segment used and every creative's choice probability (read-only array)."""
        arms = self._lookup(snapshot, segment, creative_ids)
        return arms.segment, arms.probabilities

    def _lookup(
        self,
        snapshot: SlotSnapshot,
        segment: str | None,
        creative_ids: Sequence[str],
        extra: tuple = (),
    ) -> Arms:
        """The cached arms for (version, snapshot, segment used, creatives, extra), computed once.

        extra holds whatever else the arms depend on (a subclass's per-creative inputs).
        """
        ids = tuple(creative_ids)
        if not ids:
            raise ValueError("creative_ids must hold at least one creative, but none is given")
        used = segment_used(snapshot, segment)
        key = (snapshot.version, snapshot.serial, used, ids, extra)
        arms = self._arms.get(key)
        if arms is None:
            if len(set(ids)) != len(ids):
                raise ValueError(f"creative_ids must be distinct, but {list(ids)} is given")
            arms = self._arms.setdefault(key, self._compute_arms(snapshot, used, ids, extra))
        return arms

    def _compute_arms(
        self, snapshot: SlotSnapshot, used: str, ids: tuple[str, ...], extra: tuple
    ) -> Arms:
        """Posteriors and their Monte Carlo choice probabilities: the expensive part."""
        posteriors = self._click_posteriors(snapshot, used, ids)
        alphas = np.array([p.alpha for p in posteriors])
        betas = np.array([p.beta for p in posteriors])
        probabilities = self._choice_probabilities(alphas, betas)
        for shared in (alphas, betas):
            shared.setflags(write=False)
        return Arms(used, ids, probabilities, ThompsonDraws(alphas, betas, DRAW_BLOCK))

    def _click_posteriors(
        self, snapshot: SlotSnapshot, used: str, ids: Sequence[str]
    ) -> list[BetaPosterior]:
        """_posteriors with the family strength of the leaf cached per snapshot."""
        strength = None if used == GLOBAL else self._strength(snapshot, segment_family(used))
        return click_posteriors(snapshot, used, ids, self._config, strength)

    def _choice_probabilities(self, alphas: np.ndarray, betas: np.ndarray) -> np.ndarray:
        """choice_probabilities of Beta posteriors, through _monte_carlo."""
        return self._monte_carlo(
            (alphas, betas), lambda n: choice_probabilities(alphas, betas, self._rng, n) * n
        )

    def _monte_carlo(
        self, parameters: Sequence[np.ndarray], wins: Callable[[int], np.ndarray]
    ) -> np.ndarray:
        """Choice probabilities from config.propensity_draws joint draws, where wins(n) draws n
        and returns how many each arm won; run once per set of posterior parameters rounded to
        4 significant digits.

        The draws are made in slices of MC_SLICE, and the thread lets the others of its process
        run between slices: numpy holds the interpreter lock while it draws, and a request waiting
        behind the whole Monte Carlo would add all of it to its latency.

        Every refresh makes a new snapshot, and the slot-wide means shift a little with each
        impression, so the pooled posteriors of a quiet city change by tiny amounts. A relative
        change below 5e-4 in alpha or beta moves a choice probability far less than the Monte
        Carlo error (<= 0.005), so such posteriors share one estimate. Without this, a slot with
        hundreds of active cities would rerun the Monte Carlo for every city after every refresh.
        """
        key = tuple(_rounded(values) for values in parameters)
        probabilities = self._probabilities.get(key)
        if probabilities is None:
            n_draws = self._config.propensity_draws
            won = np.zeros(len(parameters[0]))
            for start in range(0, n_draws, MC_SLICE):
                won += wins(min(MC_SLICE, n_draws - start))
                time.sleep(0)  # lets the other threads of the process take the interpreter lock
            computed = won / n_draws
            computed.setflags(write=False)
            probabilities = self._probabilities.setdefault(key, computed)
        return probabilities

    def _strength(self, snapshot: SlotSnapshot, family: str) -> float:
        """family_prior_strength, computed once per snapshot and family."""
        key = (snapshot.version, snapshot.serial, family)
        strength = self._strengths.get(key)
        if strength is None:
            computed = family_prior_strength(snapshot, family, self._config.pooling)
            strength = self._strengths.setdefault(key, computed)
        return strength


def _rounded(values: np.ndarray) -> tuple[float, ...]:
    """values to 4 significant digits, as a hashable key."""
    return tuple(float(f"{value:.4g}") for value in values)
