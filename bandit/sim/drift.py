"""Creatives that wear out: a scenario whose best creative changes, and how fast a policy follows.

The drift scenario: the first creative is best (10 % against 3 %) until ``change_at_s``, then it
drops to 1 % and the second rises to 10 %. Visitors come at ``visitors_per_s``. Every visitor is
scored against the rates in force at its time:

    share of the new best (per period) = #{visitors of the period shown the rising creative} / #visitors
    expected regret (per period)       = sum over its visitors t of (r_best(t) - r_shown(t))

``run_drift_in_process`` runs the scenario through ThompsonPolicy on snapshots rebuilt every
``refresh_s`` simulated seconds from time-bucketed counts, discounted exactly as the service does
(bandit.discount) when a half-life is given, with the exploration floor of bandit.policies.exploration.
``DriftRecorder`` scores any run, in process or through the HTTP API.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from bandit.beta import ArmCounts
from bandit.checks import require_positive, require_positive_int
from bandit.discount import bucket_start, bucket_width_s, discount_buckets, first_bucket_read
from bandit.policies import GLOBAL, SlotSnapshot, ThompsonConfig, ThompsonPolicy
from bandit.policies.exploration import with_floor

__all__ = ["DriftRecorder", "DriftScenario", "PeriodResult", "run_drift_in_process"]


@dataclass(frozen=True)
class DriftScenario:
    """Known rates before and after one change.

    creative_ids: the slot's creatives; the first wears out, the second rises, the others stay.
    """

    creative_ids: tuple[str, ...] = ("worn-out", "rising", "steady-1", "steady-2")
    rate_best: float = 0.10
    rate_other: float = 0.03
    rate_worn_out: float = 0.01
    change_at_s: float = 120.0
    duration_s: float = 240.0
    visitors_per_s: float = 15.0

    def __post_init__(self) -> None:
        if len(self.creative_ids) < 2 or len(set(self.creative_ids)) != len(self.creative_ids):
            raise ValueError(f"creative_ids must be at least 2 distinct ids, but {self.creative_ids!r} is given")
        require_positive("duration_s", self.duration_s)
        require_positive("visitors_per_s", self.visitors_per_s)
        if not 0 < self.change_at_s < self.duration_s:
            raise ValueError(f"change_at_s must be in (0, duration_s), but {self.change_at_s} is given")

    @property
    def worn_out(self) -> str:
        return self.creative_ids[0]

    @property
    def rising(self) -> str:
        return self.creative_ids[1]

    def rates(self, t_s: float) -> dict[str, float]:
        """The true click rate of every creative at time t_s of the run."""
        rates = {cid: self.rate_other for cid in self.creative_ids}
        if t_s < self.change_at_s:
            rates[self.worn_out] = self.rate_best
        else:
            rates[self.worn_out], rates[self.rising] = self.rate_worn_out, self.rate_best
        return rates

    def best(self, t_s: float) -> str:
        rates = self.rates(t_s)
        return max(self.creative_ids, key=lambda cid: rates[cid])


@dataclass(frozen=True)
class PeriodResult:
    start_s: float
    visitors: int
    clicks: int
    rising_share: float
    best_share: float
    regret: float


@dataclass
class DriftRecorder:
    """Visitors of a drift run, scored per period of ``period_s`` seconds."""

    scenario: DriftScenario
    period_s: float = 20.0
    rows: list[tuple[float, str, bool]] = field(default_factory=list)

    def record(self, t_s: float, creative_id: str, clicked: bool) -> None:
        self.rows.append((t_s, creative_id, clicked))

    def periods(self) -> list[PeriodResult]:
        n_periods = math.ceil(self.scenario.duration_s / self.period_s)
        out = []
        for index in range(n_periods):
            start, end = index * self.period_s, (index + 1) * self.period_s
            rows = [row for row in self.rows if start <= row[0] < end]
            out.append(self._score(start, rows))
        return out

    def share_of_rising(self, since_s: float, until_s: float | None = None) -> float:
        """Share of visitors in [since_s, until_s) shown the rising creative (NaN without visitors)."""
        end = self.scenario.duration_s if until_s is None else until_s
        rows = [row for row in self.rows if since_s <= row[0] < end]
        return sum(row[1] == self.scenario.rising for row in rows) / len(rows) if rows else float("nan")

    def total_regret(self) -> float:
        return sum(self._regret(t, cid) for t, cid, _ in self.rows)

    def _regret(self, t_s: float, creative_id: str) -> float:
        rates = self.scenario.rates(t_s)
        return max(rates.values()) - rates.get(creative_id, 0.0)

    def _score(self, start: float, rows: list[tuple[float, str, bool]]) -> PeriodResult:
        n = len(rows)
        if not n:
            return PeriodResult(start, 0, 0, float("nan"), float("nan"), 0.0)
        best = sum(cid == self.scenario.best(t) for t, cid, _ in rows)
        rising = sum(cid == self.scenario.rising for _, cid, _ in rows)
        return PeriodResult(start, n, sum(clicked for *_, clicked in rows), rising / n, best / n,
                            sum(self._regret(t, cid) for t, cid, _ in rows))

    def format_table(self, title: str = "") -> str:
        lines = [title] if title else []
        lines.append(f"{'period':>11}  {'visitors':>8}  {'clicks':>6}  {'best share':>10}  "
                     f"{'new best share':>14}  {'regret':>7}")
        lines.append("-" * 66)
        for p in self.periods():
            marker = "  <- change" if p.start_s <= self.scenario.change_at_s < p.start_s + self.period_s else ""
            label = f"{p.start_s:.0f}-{p.start_s + self.period_s:.0f}s"
            lines.append(f"{label:>11}  {p.visitors:>8}  {p.clicks:>6}  {p.best_share:>10.2f}  "
                         f"{p.rising_share:>14.2f}  {p.regret:>7.1f}{marker}")
        lines.append(f"total expected regret against always-best: {self.total_regret():.1f} clicks")
        return "\n".join(lines)


def run_drift_in_process(
    scenario: DriftScenario,
    half_life_s: int | None,
    seed: int,
    min_share: float = 0.0,
    refresh_s: float = 1.0,
    period_s: float = 20.0,
) -> DriftRecorder:
    """Drive the scenario's visitors through Thompson sampling without a server.

    Counts are kept per time bucket (the service's buckets) and a snapshot is rebuilt every
    refresh_s simulated seconds: discounted with half_life_s, or plain sums without one. seed drives
    the visitors and the policy (two generators drawn from it).
    """
    require_positive("refresh_s", refresh_s)
    if half_life_s is not None:
        require_positive_int("half_life_s", half_life_s)
    visitors_rng, policy_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    policy = ThompsonPolicy(ThompsonConfig(propensity_draws=2_000), policy_rng)
    width = bucket_width_s(half_life_s) if half_life_s else None
    buckets: dict[tuple[int, str], list[int]] = {}
    recorder = DriftRecorder(scenario, period_s)
    snapshot, next_refresh, version = SlotSnapshot({}), 0.0, 0
    n_visitors = int(scenario.duration_s * scenario.visitors_per_s)
    ids = scenario.creative_ids
    for visitor in range(n_visitors):
        t = visitor / scenario.visitors_per_s
        if t >= next_refresh:
            version += 1
            snapshot = _snapshot(buckets, t, half_life_s, width, version)
            next_refresh = t + refresh_s
        decision = policy.decide(snapshot, None, ids)
        if min_share:
            _, q = policy.probabilities(snapshot, None, ids)
            decision = with_floor(decision, ids, q, min_share, policy_rng)
        clicked = bool(visitors_rng.random() < scenario.rates(t)[decision.creative_id])
        bucket = bucket_start(t, width) if width else 0
        row = buckets.setdefault((bucket, decision.creative_id), [0, 0])
        row[0] += 1
        row[1] += int(clicked)
        recorder.record(t, decision.creative_id, clicked)
    return recorder


def _snapshot(buckets, now_s: float, half_life_s: int | None, width: int | None, version: int) -> SlotSnapshot:
    if half_life_s is None:
        totals: dict[str, ArmCounts] = {}
        for (_, cid), (n, k) in buckets.items():
            totals[cid] = totals.get(cid, ArmCounts()) + ArmCounts(n, k)
        return SlotSnapshot({GLOBAL: totals}, version=version)
    since = first_bucket_read(now_s, width)
    rows = [(b, GLOBAL, cid, n, k) for (b, cid), (n, k) in buckets.items() if b >= since]
    return SlotSnapshot(discount_buckets(rows, now_s, half_life_s), version=version)
