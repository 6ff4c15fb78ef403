"""The game simulator: which policy earns the most net revenue over a week of play.

Three policies meet the same players at the same times with the same luck (bandit.sim.game_world):

    revenue   RevenuePolicy, fed with bandit.attribution labels as payments arrive: delayed
              (purchases come hours to days after the click) and provisional (refunds and
              repeats keep changing a label until its horizon closes)
    clicks    ThompsonPolicy on clicks, today's objective
    uniform   every offer equally often

Every policy reads a snapshot of what has been observed, rebuilt every refresh_s simulated
seconds, as the service refreshes its counts from storage. Impressions and clicks count in
"global" and in the player's segment; so do the attributed labels of the clicked decisions.
A run's score is the net revenue (purchases - refunds) paid within the simulated days.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from bandit.checks import require_positive, require_positive_int
from bandit.attribution import DAY_S, Click, Label, Payment, attribute
from bandit.beta import ArmCounts
from bandit.sim.game_world import Customer, GameWorld, Visit, game_world, make_customers, make_visits
from bandit.policies import GLOBAL, SlotSnapshot, ThompsonConfig, ThompsonPolicy
from bandit.policies.revenue import RevenueConfig, RevenuePolicy, RevenueTotals

__all__ = ["POLICIES", "GameComparison", "GameResult", "compare_policies", "run_game"]

POLICIES = ("revenue", "clicks", "uniform")
HOUR_S = 3_600
# Seeds of the policies' own generators, derived from the run's seed so that a run is repeatable.
_POLICY_SEED_OFFSET = 1_000
# The simulation uses the policies' choices, never their propensities: a smaller Monte Carlo behind
# the propensities changes no choice and makes a run about 5 times faster.
_PROPENSITY_DRAWS = 1_000

Chooser = Callable[[SlotSnapshot, str], str]


@dataclass
class GameResult:
    """Totals of one policy's run, overall and per segment.

    net = purchased - refunded, counting the payments made within the simulated days.
    """

    policy: str
    impressions: dict[str, int] = field(default_factory=dict)
    clicks: dict[str, int] = field(default_factory=dict)
    purchases: dict[str, int] = field(default_factory=dict)
    purchased: dict[str, float] = field(default_factory=dict)
    refunded: dict[str, float] = field(default_factory=dict)
    shown: dict[str, dict[str, int]] = field(default_factory=dict)

    def net(self, segment: str | None = None) -> float:
        """Net revenue of one segment, or of all (None)."""
        if segment is None:
            return sum(self.purchased.values()) - sum(self.refunded.values())
        return self.purchased.get(segment, 0.0) - self.refunded.get(segment, 0.0)

    def total(self, table: Mapping[str, float]) -> float:
        return sum(table.values())

    def top_offer(self, segment: str) -> str:
        """The offer shown most often in a segment."""
        shown = self.shown.get(segment, {})
        return max(shown, key=shown.get) if shown else "-"

    def add(self, table: dict, segment: str, amount: float) -> None:
        """Add amount to one segment's entry of one of the tables above."""
        table[segment] = table.get(segment, 0) + amount


@dataclass(frozen=True)
class GameComparison:
    """The results of every policy on one world, players and seed."""

    results: Mapping[str, GameResult]
    segments: tuple[str, ...]
    days: float
    customers: int
    seed: int

    def margin(self, policy: str, baseline: str) -> float:
        """Relative margin net(policy) / net(baseline) - 1."""
        return self.results[policy].net() / self.results[baseline].net() - 1.0

    def format_table(self) -> str:
        """One line per policy (shown, clicks, purchases, refunded, net overall and per segment)."""
        names = [_level(segment) for segment in self.segments]
        header = f"{'policy':<9}{'shown':>8}{'clicks':>8}{'buys':>6}{'refunded':>10}{'net':>10}"
        header += "".join(f"{name:>12}" for name in names)
        title = f"{self.customers} players, {self.days:g} days, seed {self.seed}"
        lines = [f"{title}: net revenue = purchases - refunds", header, "-" * len(header)]
        for name, r in self.results.items():
            lines.append(
                f"{name:<9}{int(r.total(r.impressions)):>8}{int(r.total(r.clicks)):>8}"
                f"{int(r.total(r.purchases)):>6}{r.total(r.refunded):>10.2f}{r.net():>10.2f}"
                + "".join(f"{r.net(segment):>12.2f}" for segment in self.segments)
            )
        lines.append("most shown offer per segment:")
        for name, r in self.results.items():
            tops = ", ".join(f"{_level(s)} {r.top_offer(s)}" for s in self.segments)
            lines.append(f"  {name:<9}{tops}")
        if "revenue" in self.results:
            for baseline in (p for p in self.results if p != "revenue"):
                margin = self.margin("revenue", baseline)
                lines.append(f"revenue policy vs {baseline}: {margin:+.1%} net revenue")
        return "\n".join(lines)


def _level(segment: str) -> str:
    """"segment:whale" -> "whale"."""
    return segment.split(":", 1)[1]


def compare_policies(
    customers: int = 2_000,
    days: float = 7.0,
    seed: int = 0,
    world: GameWorld | None = None,
    policies: Sequence[str] = POLICIES,
    refresh_s: float = HOUR_S,
    progress: Callable[[str], None] | None = None,
) -> GameComparison:
    """Run every policy on the same players, visits and luck; return their results.

    The world's players and visits come from default_rng(seed); each policy draws its own
    choices from default_rng(seed + 1000 + its index).
    """
    require_positive_int("customers", customers)
    require_positive("days", days)
    world = world or game_world()
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise ValueError(f"policies must be among {', '.join(POLICIES)}, but {unknown} is given")
    rng = np.random.default_rng(seed)
    players = make_customers(world, customers, rng)
    visits = make_visits(world, players, days, rng)
    results = {}
    for index, name in enumerate(policies):
        chooser = _chooser(name, world, np.random.default_rng(seed + _POLICY_SEED_OFFSET + index))
        results[name] = run_game(world, players, visits, chooser, name, days, refresh_s, progress)
    return GameComparison(results, world.segments, days, customers, seed)


def _chooser(name: str, world: GameWorld, rng: np.random.Generator) -> Chooser:
    """The decision of one policy for a snapshot and a segment."""
    ids = world.creative_ids
    if name == "revenue":
        config = RevenueConfig(thompson=ThompsonConfig(propensity_draws=_PROPENSITY_DRAWS))
        revenue = RevenuePolicy(config, rng)
        prices = world.prices()
        return lambda snapshot, segment: revenue.decide(snapshot, segment, ids, prices).creative_id
    if name == "clicks":
        clicks = ThompsonPolicy(ThompsonConfig(propensity_draws=_PROPENSITY_DRAWS), rng)
        return lambda snapshot, segment: clicks.decide(snapshot, segment, ids).creative_id
    return lambda snapshot, segment: ids[int(rng.integers(len(ids)))]


@dataclass
class _Observed:
    """What the service would know at a moment: impressions, clicks and payments so far."""

    counts: dict[str, dict[str, ArmCounts]] = field(default_factory=dict)
    clicks: dict[int, list[Click]] = field(default_factory=dict)
    payments: dict[int, list[Payment]] = field(default_factory=dict)
    labels: dict[int, dict[str, Label]] = field(default_factory=dict)
    placed: dict[str, tuple[str, str]] = field(default_factory=dict)  # decision -> (segment, offer)
    changed: set[int] = field(default_factory=set)

    def count(self, segment: str, offer: str, clicked: bool) -> None:
        for key in (GLOBAL, segment):
            arms = self.counts.setdefault(key, {})
            arms[offer] = arms.get(offer, ArmCounts()) + ArmCounts(1, int(clicked))

    def snapshot(self, now: float, version: int) -> SlotSnapshot:
        """Counts and the revenue totals of the labels as attributed at now."""
        for customer in self.changed:
            clicks, payments = self.clicks.get(customer, []), self.payments.get(customer, [])
            self.labels[customer] = attribute(clicks, payments, now)
        self.changed.clear()
        revenue: dict[str, dict[str, RevenueTotals]] = {}
        for labels in self.labels.values():
            for decision, label in labels.items():
                if label.purchases <= 0.0:
                    continue
                segment, offer = self.placed[decision]
                totals = RevenueTotals(label.purchases, label.refunds, label.gross, label.gross_sq)
                for key in (GLOBAL, segment):
                    arms = revenue.setdefault(key, {})
                    arms[offer] = arms.get(offer, RevenueTotals()) + totals
        counts = {key: dict(arms) for key, arms in self.counts.items()}
        return SlotSnapshot(counts, version=version, revenue=revenue)


def run_game(
    world: GameWorld,
    players: Sequence[Customer],
    visits: Sequence[Visit],
    chooser: Chooser,
    name: str,
    days: float,
    refresh_s: float = HOUR_S,
    progress: Callable[[str], None] | None = None,
) -> GameResult:
    """One policy through every visit; payments become known when their time comes.

    Returns the result counting every payment made before the end of the days.
    """
    end = days * DAY_S
    horizon = 7 * DAY_S
    result = GameResult(name)
    observed = _Observed()
    pending: list[tuple[float, str, int, Payment]] = []  # heap of payments not yet made
    snapshot, next_refresh, version, next_day = SlotSnapshot({}), 0.0, 0, 0.0
    for number, visit in enumerate(visits):
        if visit.time >= next_refresh:
            _arrive(pending, visit.time, observed)
            version += 1
            snapshot = observed.snapshot(visit.time, version)
            next_refresh = (visit.time // refresh_s + 1) * refresh_s
        if progress and visit.time >= next_day:
            day = next_day / DAY_S + 1
            progress(f"  {name}: day {day:.0f} of {days:g}, {number} visits so far")
            next_day += DAY_S
        player = players[visit.customer]
        segment = player.segment
        offer = chooser(snapshot, segment)
        decision = f"{name}-{number}"
        outcome = world.outcome(player, offer, visit, decision)
        observed.count(segment, offer, outcome.clicked)
        observed.placed[decision] = (segment, offer)
        result.add(result.impressions, segment, 1)
        result.shown.setdefault(segment, {}).setdefault(offer, 0)
        result.shown[segment][offer] += 1
        if outcome.clicked:
            result.add(result.clicks, segment, 1)
            click = Click(decision, visit.time, visit.time + 30.0, horizon)
            observed.clicks.setdefault(visit.customer, []).append(click)
            observed.changed.add(visit.customer)
        for payment in outcome.payments:
            if payment.time < end:
                heapq.heappush(pending, (payment.time, payment.event_id, visit.customer, payment))
                _score(result, segment, payment)
    return result


def _arrive(pending: list, now: float, observed: _Observed) -> None:
    """Move every payment made by now from pending into what the service knows."""
    while pending and pending[0][0] <= now:
        _, _, customer, payment = heapq.heappop(pending)
        observed.payments.setdefault(customer, []).append(payment)
        observed.changed.add(customer)


def _score(result: GameResult, segment: str, payment: Payment) -> None:
    """Add a payment to the result (ground truth, whatever attribution makes of it)."""
    if payment.kind == "purchase":
        result.add(result.purchases, segment, 1)
        result.add(result.purchased, segment, payment.amount)
    else:
        result.add(result.refunded, segment, payment.amount)
