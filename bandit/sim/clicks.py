"""Synthetic visitors with known click rates, and a run of the policy over them.

Because the true click rate of every creative in every city is known, a run
can be scored exactly: how often each city saw its best creative, how many
clicks were lost against always showing it (regret), and how many were won
against a uniform split.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bandit.checks import require_count, require_positive_int
from bandit.beta import ArmCounts
from bandit.policies import GLOBAL, SlotSnapshot, ThompsonPolicy
from bandit.sim.scores import CityResult, SimulationReport

__all__ = [
    "CityResult",
    "SimulationReport",
    "SyntheticWorld",
    "demo_world",
    "run_in_process",
]


@dataclass(frozen=True)
class SyntheticWorld:
    """Visitors from weighted cities who click creatives at known rates.

    creative_ids: the creatives of the slot.
    city_weights: share of visitors per city (normalised, need not sum to 1).
    click_rates: city -> creative -> true click rate in [0, 1].
    """

    creative_ids: tuple[str, ...]
    city_weights: Mapping[str, float]
    click_rates: Mapping[str, Mapping[str, float]]

    def __post_init__(self) -> None:
        if not self.creative_ids or len(set(self.creative_ids)) != len(self.creative_ids):
            raise ValueError(
                f"creative_ids must be distinct and not empty, but {self.creative_ids!r} is given"
            )
        if not self.city_weights or any(w < 0 for w in self.city_weights.values()):
            raise ValueError(
                f"city_weights must be >= 0 and not empty, but {dict(self.city_weights)} is given"
            )
        if sum(self.city_weights.values()) <= 0:
            raise ValueError("city_weights must have a positive sum, but all are 0")
        for city in self.city_weights:
            self._check_rates(city)

    def _check_rates(self, city: str) -> None:
        rates = self.click_rates.get(city, {})
        for creative_id in self.creative_ids:
            rate = rates.get(creative_id)
            if rate is None or not 0.0 <= rate <= 1.0:
                raise ValueError(
                    f"click_rates[{city!r}][{creative_id!r}] must be in [0, 1], "
                    f"but {rate!r} is given"
                )

    @property
    def cities(self) -> tuple[str, ...]:
        return tuple(self.city_weights)

    def sample_city(self, rng: np.random.Generator) -> str:
        """A visitor's city, drawn with probability weight / sum of weights."""
        weights = np.array(list(self.city_weights.values()), dtype=float)
        return self.cities[rng.choice(len(weights), p=weights / weights.sum())]

    def clicked(self, city: str, creative_id: str, rng: np.random.Generator) -> bool:
        """One Bernoulli(rate) click of a visitor from city shown creative_id."""
        return bool(rng.random() < self.click_rates[city][creative_id])

    def best_creative(self, city: str) -> str:
        """The creative with the highest true click rate in city."""
        rates = self.click_rates[city]
        return max(self.creative_ids, key=lambda creative_id: rates[creative_id])

    def uniform_rate(self, city: str) -> float:
        """Expected click rate of a uniform split: the mean rate over creative_ids."""
        rates = self.click_rates[city]
        return float(np.mean([rates[creative_id] for creative_id in self.creative_ids]))


_DEMO_CREATIVES = tuple(f"banner-{i:02d}" for i in range(1, 11))

# Dense cities: a different favourite each (0.15), a runner-up (0.07), the rest 0.01-0.05.
_DENSE_RATES = {
    "mumbai": (0.03, 0.02, 0.15, 0.05, 0.01, 0.04, 0.07, 0.02, 0.03, 0.04),
    "delhi": (0.07, 0.03, 0.02, 0.05, 0.04, 0.15, 0.01, 0.03, 0.04, 0.02),
    "bengaluru": (0.02, 0.04, 0.03, 0.07, 0.03, 0.01, 0.02, 0.05, 0.15, 0.03),
}
# Sparse cities: the average taste of the dense cities, scaled a little.
_SPARSE_SCALE = {"pune": 1.1, "jaipur": 0.9, "lucknow": 1.0, "nagpur": 0.95, "indore": 1.05}


def demo_world() -> SyntheticWorld:
    """The world behind the demo tenant.

    Creatives banner-01 .. banner-10. Mumbai, Delhi and Bengaluru bring 25% of
    the visitors each, and each has its own clear favourite at 0.15 (banner-03,
    banner-06, banner-09) ahead of a runner-up at 0.07. Pune, Jaipur, Lucknow,
    Nagpur and Indore share the last 25% (5% each); their rates are the average
    of the dense cities times a factor in [0.9, 1.1], so their own data is thin
    but the slot-wide posterior is a good prior for them.
    """
    rates: dict[str, dict[str, float]] = {
        city: dict(zip(_DEMO_CREATIVES, row)) for city, row in _DENSE_RATES.items()
    }
    average = np.mean(list(_DENSE_RATES.values()), axis=0)
    for city, scale in _SPARSE_SCALE.items():
        rates[city] = {c: round(float(scale * a), 4) for c, a in zip(_DEMO_CREATIVES, average)}
    weights = {city: 0.25 for city in _DENSE_RATES}
    weights.update({city: 0.05 for city in _SPARSE_SCALE})
    return SyntheticWorld(creative_ids=_DEMO_CREATIVES, city_weights=weights, click_rates=rates)


def run_in_process(
    world: SyntheticWorld,
    policy: ThompsonPolicy,
    n_visitors: int,
    rng: np.random.Generator,
    refresh_every: int = 1,
) -> SimulationReport:
    """Drive visitors through the policy without any server.

    Each visitor comes from world.sample_city, gets policy.decide(snapshot,
    "city:<city>", creatives) and clicks with the true rate. Every impression
    counts in "global" and in "city:<city>". The policy reads a SlotSnapshot
    rebuilt every refresh_every visitors, as the service reads posteriors
    refreshed from storage now and then. rng drives the visitors only; the
    policy draws from its own generator.
    """
    require_count("n_visitors", n_visitors)
    require_positive_int("refresh_every", refresh_every)
    counts: dict[str, dict[str, ArmCounts]] = {}
    report = SimulationReport(world)
    snapshot = SlotSnapshot({})
    for visitor in range(n_visitors):
        if visitor % refresh_every == 0:
            snapshot = _snapshot_of(counts, version=visitor // refresh_every)
        city = world.sample_city(rng)
        segment = f"city:{city}"
        decision = policy.decide(snapshot, segment, world.creative_ids)
        clicked = world.clicked(city, decision.creative_id, rng)
        observed = ArmCounts(impressions=1, clicks=int(clicked))
        for key in (GLOBAL, segment):
            arms = counts.setdefault(key, {})
            arms[decision.creative_id] = arms.get(decision.creative_id, ArmCounts()) + observed
        report.record(city, decision.creative_id, clicked)
    return report


def _snapshot_of(counts: Mapping[str, Mapping[str, ArmCounts]], version: int) -> SlotSnapshot:
    """A copy of the running counts, so later visitors do not change it."""
    return SlotSnapshot({key: dict(arms) for key, arms in counts.items()}, version=version)
