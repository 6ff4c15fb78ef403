"""The decision the service makes: which creative to show in a slot.

Counts live in segments: "global" holds every impression of the slot, and leaf
segments such as "city:pune" or "segment:vip" hold the impressions of one
audience. A request names at most one leaf. When that leaf has data, each
creative's leaf counts are pooled toward its global posterior (see pooling)
and Thompson sampling runs on the pooled posteriors; otherwise it runs on the
global posteriors.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np

from bandit._validation import require_positive, require_positive_int
from bandit.beta import ArmCounts, BetaPosterior
from bandit.cache import LruCache
from bandit.pooling import PoolingConfig, pooled_posterior, slot_prior_strength
from bandit.thompson import BlockChoices, ThompsonDraws, choice_probabilities

if TYPE_CHECKING:
    from bandit.revenue import RevenueTotals

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

GLOBAL = "global"
CACHE_ENTRIES = 1024
# Thompson rounds drawn at once per set of posteriors: a snapshot lives about a second, so a
# small block wastes little on quiet segments and still makes busy ones about 10x cheaper.
DRAW_BLOCK = 64
# Rows per slice of a propensity Monte Carlo (see ThompsonPolicy._monte_carlo): about 0.5 ms each.
MC_SLICE = 1_000

_NO_COUNTS = ArmCounts()
_SNAPSHOT_SERIALS = itertools.count()


@dataclass(frozen=True)
class SlotSnapshot:
    """Counts for one slot at one moment, as read from storage.

    segments maps a segment key ("global", "city:pune", "segment:vip", ...) to
    {creative_id: ArmCounts}. version changes whenever the counts change (the
    service passes its refresh counter).
    """

    segments: Mapping[str, Mapping[str, ArmCounts]]
    version: int = 0
    # Seeded priors {segment: {creative_id: BetaPosterior}} (see bandit.priors); empty = Beta(1, 1)
    # slot-wide and pooling toward the slot-wide posterior in leaves.
    priors: Mapping[str, Mapping[str, BetaPosterior]] = field(default_factory=dict)
    # Attributed purchases of revenue slots {segment: {creative_id: RevenueTotals}} (see
    # bandit.revenue); impressions and clicks stay in segments.
    revenue: Mapping[str, Mapping[str, RevenueTotals]] = field(default_factory=dict)
    # Unique per snapshot object in this process; unlike id(), never reused.
    _serial: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_serial", next(_SNAPSHOT_SERIALS))

    def counts(self, segment: str, creative_id: str) -> ArmCounts:
        """Counts of a creative in a segment; zero counts when absent."""
        return self.segments.get(segment, {}).get(creative_id, _NO_COUNTS)

    def has_segment(self, segment: str) -> bool:
        """True when the segment has at least one impression or a seeded prior."""
        arms = self.segments.get(segment, {})
        return bool(self.priors.get(segment)) or any(counts.impressions > 0 for counts in arms.values())

    def prior(self, segment: str, creative_id: str) -> BetaPosterior | None:
        """The seeded prior of a creative in a segment, or None."""
        return self.priors.get(segment, {}).get(creative_id)

    def revenue_totals(self, segment: str, creative_id: str) -> RevenueTotals:
        """Revenue totals of a creative in a segment; zero totals when absent."""
        from bandit.revenue import RevenueTotals

        return self.revenue.get(segment, {}).get(creative_id) or RevenueTotals()


@dataclass(frozen=True)
class Decision:
    """The creative shown, the segment whose posterior chose it, and its propensity."""

    creative_id: str
    segment: str
    propensity: float


@dataclass(frozen=True)
class ThompsonConfig:
    """Settings of Thompson sampling.

    pooling: bounds of the prior strength of leaf segments.
    propensity_draws: Monte Carlo draws behind each propensity.
    prior_alpha, prior_beta: Beta prior of the global posteriors (1, 1 is uniform).
    """

    pooling: PoolingConfig = PoolingConfig()
    propensity_draws: int = 10_000
    prior_alpha: float = 1.0
    prior_beta: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.pooling, PoolingConfig):
            raise TypeError(f"pooling must be a PoolingConfig, but {self.pooling!r} is given")
        require_positive_int("propensity_draws", self.propensity_draws)
        require_positive("prior_alpha", self.prior_alpha)
        require_positive("prior_beta", self.prior_beta)


def segment_family(segment: str) -> str:
    """The part before the first colon: "city:pune" -> "city".

    Leaf segments of one family are pooled toward the global posterior together.
    """
    return segment.split(":", 1)[0]


def family_prior_strength(snapshot: SlotSnapshot, family: str, config: PoolingConfig) -> float:
    """slot_prior_strength over every leaf segment of a family, for every creative seen there."""
    leaves = [s for s in snapshot.segments if s != GLOBAL and segment_family(s) == family]
    creative_ids = dict.fromkeys(c for leaf in leaves for c in snapshot.segments[leaf])
    city_counts_by_creative = {
        creative_id: [snapshot.counts(leaf, creative_id) for leaf in leaves]
        for creative_id in creative_ids
    }
    return slot_prior_strength(city_counts_by_creative, config)


def posteriors_for(
    snapshot: SlotSnapshot,
    segment: str | None,
    creative_ids: Sequence[str],
    config: ThompsonConfig,
) -> tuple[str, list[BetaPosterior]]:
    """The segment used and one posterior per creative, in the order of creative_ids.

    No segment, "global", or a segment without impressions: ("global", the
    Beta(prior_alpha + k, prior_beta + n - k) posteriors of the global counts).
    A leaf with impressions: (leaf, each creative's leaf counts pooled toward its
    global posterior with the strength of the leaf's family).
    """
    used = _segment_used(snapshot, segment)
    strength = None
    if used != GLOBAL:
        strength = family_prior_strength(snapshot, segment_family(used), config.pooling)
    return used, _posteriors(snapshot, used, creative_ids, config, strength)


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
        self._arms: LruCache[_Arms] = LruCache(CACHE_ENTRIES)
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

    def _decision(self, arms: _Arms) -> Decision:
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
    ) -> _Arms:
        """The cached arms for (version, snapshot, segment used, creatives, extra), computed once.

        extra holds whatever else the arms depend on (a subclass's per-creative inputs).
        """
        ids = tuple(creative_ids)
        if not ids:
            raise ValueError("creative_ids must hold at least one creative, but none is given")
        used = _segment_used(snapshot, segment)
        key = (snapshot.version, snapshot._serial, used, ids, extra)
        arms = self._arms.get(key)
        if arms is None:
            if len(set(ids)) != len(ids):
                raise ValueError(f"creative_ids must be distinct, but {list(ids)} is given")
            arms = self._arms.setdefault(key, self._compute_arms(snapshot, used, ids, extra))
        return arms

    def _compute_arms(
        self, snapshot: SlotSnapshot, used: str, ids: tuple[str, ...], extra: tuple
    ) -> _Arms:
        """Posteriors and their Monte Carlo choice probabilities: the expensive part."""
        posteriors = self._click_posteriors(snapshot, used, ids)
        alphas = np.array([p.alpha for p in posteriors])
        betas = np.array([p.beta for p in posteriors])
        probabilities = self._choice_probabilities(alphas, betas)
        for shared in (alphas, betas):
            shared.setflags(write=False)
        return _Arms(used, ids, probabilities, ThompsonDraws(alphas, betas, DRAW_BLOCK))

    def _click_posteriors(
        self, snapshot: SlotSnapshot, used: str, ids: Sequence[str]
    ) -> list[BetaPosterior]:
        """_posteriors with the family strength of the leaf cached per snapshot."""
        strength = None if used == GLOBAL else self._strength(snapshot, segment_family(used))
        return _posteriors(snapshot, used, ids, self._config, strength)

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
        run between slices: numpy holds the interpreter lock while it draws, and 10,000 draws of
        10 arms take about 5 ms, which a request waiting behind them would add to its latency.

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
        key = (snapshot.version, snapshot._serial, family)
        strength = self._strengths.get(key)
        if strength is None:
            computed = family_prior_strength(snapshot, family, self._config.pooling)
            strength = self._strengths.setdefault(key, computed)
        return strength


def _rounded(values: np.ndarray) -> tuple[float, ...]:
    """values to 4 significant digits, as a hashable key."""
    return tuple(float(f"{value:.4g}") for value in values)


@dataclass(frozen=True)
class _Arms:
    """Everything a decision needs for one snapshot, segment used and creative list."""

    segment: str
    creative_ids: tuple[str, ...]
    probabilities: np.ndarray
    draws: BlockChoices


def _segment_used(snapshot: SlotSnapshot, segment: str | None) -> str:
    """The requested leaf when it has impressions, else "global"."""
    if segment is None or segment == GLOBAL or not snapshot.has_segment(segment):
        return GLOBAL
    return segment


def _posteriors(
    snapshot: SlotSnapshot,
    used: str,
    creative_ids: Sequence[str],
    config: ThompsonConfig,
    strength: float | None,
) -> list[BetaPosterior]:
    """The global posteriors; for a leaf, the leaf counts pooled toward them with strength.

    A seeded prior replaces Beta(prior_alpha, prior_beta) slot-wide and the pooled prior in a
    leaf: posterior = Beta(alpha0 + k, beta0 + n - k) with the segment's own counts.
    """
    parents = [
        _from_prior(snapshot, GLOBAL, creative_id, (config.prior_alpha, config.prior_beta))
        for creative_id in creative_ids
    ]
    if used == GLOBAL:
        return parents
    return [
        _from_prior(snapshot, used, creative_id, None)
        or pooled_posterior(snapshot.counts(used, creative_id), parent, strength)
        for creative_id, parent in zip(creative_ids, parents)
    ]


def _from_prior(
    snapshot: SlotSnapshot, segment: str, creative_id: str, default: tuple[float, float] | None
) -> BetaPosterior | None:
    """The seeded (or default) prior updated with the segment's counts; None without either."""
    seeded = snapshot.prior(segment, creative_id)
    if seeded is not None:
        prior = (seeded.alpha, seeded.beta)
    elif default is not None:
        prior = default
    else:
        return None
    return BetaPosterior.from_counts(snapshot.counts(segment, creative_id), *prior)
