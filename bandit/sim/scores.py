"""What a simulated run learned, scored against the known click rates.

Per city with n visitors, creative c_t shown to visitor t and true rates r:

    best share       = #{t : c_t = best} / n
    late best share  = the same over the last ceil(n / 4) visitors
    expected regret  = sum_t (r_best - r_{c_t})        (clicks lost to always-best)
    uniform clicks   = n * mean_c r_c                  (expected under a uniform split)
    click lift       = clicks / uniform clicks - 1
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class World(Protocol):
    """What a report needs of a world: its true rates (``bandit.sim.clicks.SyntheticWorld`` is one)."""

    click_rates: Mapping[str, Mapping[str, float]]
    creative_ids: Sequence[str]
    cities: Sequence[str]

    def uniform_rate(self, city: str) -> float: ...

    def best_creative(self, city: str) -> str: ...


__all__ = ["CityResult", "SimulationReport", "World"]


@dataclass(frozen=True)
class CityResult:
    """One city's line of the report (rates and shares are NaN without visitors)."""

    city: str
    visitors: int
    clicks: int
    ctr: float
    uniform_ctr: float
    best_creative: str
    best_share: float
    late_best_share: float
    expected_regret: float


@dataclass
class SimulationReport:
    """Visitors of a run, recorded one by one, scored against world's true rates.

    shown: city -> the creative shown to each of its visitors, in order.
    clicks_by_city: city -> clicks observed.
    """

    world: World
    shown: dict[str, list[str]] = field(default_factory=dict)
    clicks_by_city: dict[str, int] = field(default_factory=dict)

    def record(self, city: str, creative_id: str, clicked: bool) -> None:
        """One visitor from city was shown creative_id and clicked or not."""
        if city not in self.world.click_rates:
            raise ValueError(f"city must be a city of the world, but {city!r} is given")
        if creative_id not in self.world.creative_ids:
            raise ValueError(
                f"creative_id must be a creative of the world, but {creative_id!r} is given"
            )
        self.shown.setdefault(city, []).append(creative_id)
        self.clicks_by_city[city] = self.clicks_by_city.get(city, 0) + int(clicked)

    @property
    def cities(self) -> dict[str, CityResult]:
        """One result per city of the world, in the world's order."""
        return {city: self._city_result(city) for city in self.world.cities}

    @property
    def visitors(self) -> int:
        return sum(len(shown) for shown in self.shown.values())

    @property
    def clicks(self) -> int:
        return sum(self.clicks_by_city.values())

    @property
    def ctr(self) -> float:
        return _ratio(self.clicks, self.visitors)

    @property
    def uniform_clicks(self) -> float:
        """Expected clicks of a uniform split over the same visitors."""
        return sum(
            len(shown) * self.world.uniform_rate(city) for city, shown in self.shown.items()
        )

    @property
    def uniform_ctr(self) -> float:
        return _ratio(self.uniform_clicks, self.visitors)

    @property
    def expected_regret(self) -> float:
        """Expected clicks lost against always showing each city's best creative."""
        return sum(self._regret(city) for city in self.shown)

    @property
    def click_lift(self) -> float:
        """Clicks over the uniform expectation: clicks / uniform clicks - 1."""
        return _ratio(self.clicks, self.uniform_clicks) - 1.0

    def format_table(self) -> str:
        """A plain text table, one line per city and one for the total."""
        header = (
            f"{'city':<12}{'visitors':>9}{'clicks':>8}{'ctr':>8}{'uniform':>9}"
            f"  {'best creative':<14}{'best share':>11}{'late share':>11}{'regret':>9}"
        )
        lines = [header, "-" * len(header)]
        for result in self.cities.values():
            lines.append(
                f"{result.city:<12}{result.visitors:>9}{result.clicks:>8}"
                f"{_number(result.ctr, 4):>8}{_number(result.uniform_ctr, 4):>9}"
                f"  {result.best_creative:<14}{_number(result.best_share, 2):>11}"
                f"{_number(result.late_best_share, 2):>11}"
                f"{_number(result.expected_regret, 1):>9}"
            )
        lines.append("-" * len(header))
        lines.append(
            f"{'total':<12}{self.visitors:>9}{self.clicks:>8}{_number(self.ctr, 4):>8}"
            f"{_number(self.uniform_ctr, 4):>9}{'':>38}{_number(self.expected_regret, 1):>9}"
        )
        lines.append(
            f"clicks {self.clicks} against {self.uniform_clicks:.1f} expected from a uniform "
            f"split (lift {_percent(self.click_lift)}); "
            f"expected regret against always-best {self.expected_regret:.1f} clicks"
        )
        return "\n".join(lines)

    def _city_result(self, city: str) -> CityResult:
        shown = self.shown.get(city, [])
        best = self.world.best_creative(city)
        late = shown[len(shown) - math.ceil(len(shown) / 4) :]
        clicks = self.clicks_by_city.get(city, 0)
        return CityResult(
            city=city,
            visitors=len(shown),
            clicks=clicks,
            ctr=_ratio(clicks, len(shown)),
            uniform_ctr=self.world.uniform_rate(city),
            best_creative=best,
            best_share=_ratio(shown.count(best), len(shown)),
            late_best_share=_ratio(late.count(best), len(late)),
            expected_regret=self._regret(city),
        )

    def _regret(self, city: str) -> float:
        rates = self.world.click_rates[city]
        best_rate = rates[self.world.best_creative(city)]
        return sum(best_rate - rates[creative_id] for creative_id in self.shown.get(city, []))


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def _number(value: float, decimals: int) -> str:
    return "-" if math.isnan(value) else f"{value:.{decimals}f}"


def _percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:+.0%}"
