"""Offers chosen for the revenue they bring over the slot's horizon, not for clicks.

For every offer, draw each factor of

    value = p(click) x p(purchase | click) x (1 - p(refund | purchase)) x E(revenue | purchase)

from its own posterior (bandit.revenue_model) and show the offer with the largest product:
Thompson sampling on the expected net revenue per impression. As in bandit.policies, a request
names at most one leaf segment; when that leaf has impressions, every factor of the leaf is
pooled toward the slot-wide posterior of the same factor (empirical Bayes, bandit.pooling),
so a sparse segment starts from what the whole slot knows. bandit.revenue_stats summarises
the posteriors for the stats of a slot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from bandit.checks import require_positive
from bandit.beta import ArmCounts, BetaPosterior
from bandit.lru import LruCache
from bandit.policies.base import (
    CACHE_ENTRIES,
    GLOBAL,
    Arms,
    Decision,
    SlotSnapshot,
    ThompsonConfig,
    posteriors_for,
    segment_family,
    segment_used,
)
from bandit.policies.thompson import ThompsonPolicy
from bandit.pooling import slot_prior_strength
from bandit.revenue_model import (
    NormalGamma,
    RevenueTotals,
    draw_means,
    pooled_beta,
    pooled_normal_gamma,
)
from bandit.sampling import BlockChoices

__all__ = [
    "OfferPosteriors",
    "RevenueConfig",
    "RevenuePolicy",
    "RevenueTotals",
    "factor_strength",
    "offer_posteriors",
    "offer_values",
    "revenue_posteriors",
    "win_frequencies",
]

# As in bandit.policies: Thompson rounds drawn at once per set of posteriors.
DRAW_BLOCK = 64
Prices = Mapping[str, "float | None"]


@dataclass(frozen=True)
class RevenueConfig:
    """Settings of the revenue policy.

    thompson: the click factor (its Beta prior, seeded priors, pooling bounds) and the number
        of Monte Carlo draws behind each propensity, exactly as for ThompsonPolicy.
    purchase_prior, refund_prior: Beta(alpha, beta) priors of p(purchase | click) and
        p(refund | purchase) slot-wide; (1, 1) is uniform.
    default_amount: prior mean of one purchase's amount for an offer without a price.
    amount_spread: prior sd of one amount as a share of its prior mean.
    amount_prior_strength: purchases the slot-wide amount prior is worth (1: weak, the first
        purchases soon outweigh the price).
    amount_pooling_strength: purchases a leaf's amount prior is worth at most.
    """

    thompson: ThompsonConfig = ThompsonConfig()
    purchase_prior: tuple[float, float] = (1.0, 1.0)
    refund_prior: tuple[float, float] = (1.0, 1.0)
    default_amount: float = 1.0
    amount_spread: float = 0.5
    amount_prior_strength: float = 1.0
    amount_pooling_strength: float = 10.0

    def __post_init__(self) -> None:
        if not isinstance(self.thompson, ThompsonConfig):
            raise TypeError(f"thompson must be a ThompsonConfig, but {self.thompson!r} is given")
        for name in ("purchase_prior", "refund_prior"):
            alpha, beta = getattr(self, name)
            require_positive(f"{name} alpha", alpha)
            require_positive(f"{name} beta", beta)
        require_positive("default_amount", self.default_amount)
        require_positive("amount_spread", self.amount_spread)
        require_positive("amount_prior_strength", self.amount_prior_strength)
        require_positive("amount_pooling_strength", self.amount_pooling_strength)

    def amount_prior(self, price: float | None) -> NormalGamma:
        """The slot-wide prior of an offer's amount: centred on its price when it has one."""
        mean = price if price is not None and price > 0 else self.default_amount
        return NormalGamma.around(mean, self.amount_spread * mean, self.amount_prior_strength)


@dataclass(frozen=True)
class OfferPosteriors:
    """The four factor posteriors of K offers, in the order of their creative ids."""

    click: tuple[BetaPosterior, ...]
    purchase: tuple[BetaPosterior, ...]
    refund: tuple[BetaPosterior, ...]
    amount: tuple[NormalGamma, ...]
    _arrays: tuple[np.ndarray, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        sizes = {len(self.click), len(self.purchase), len(self.refund), len(self.amount)}
        if len(sizes) != 1 or 0 in sizes:
            raise ValueError(
                f"every factor needs one posterior per offer, but lengths {sorted(sizes)} are given"
            )
        arrays = []
        for factor in (self.click, self.purchase, self.refund):
            arrays += [np.array([p.alpha for p in factor]), np.array([p.beta for p in factor])]
        for name in ("mu", "kappa", "alpha", "beta"):
            arrays.append(np.array([getattr(a, name) for a in self.amount]))
        for values in arrays:
            values.setflags(write=False)
        object.__setattr__(self, "_arrays", tuple(arrays))

    def parameters(self) -> tuple[np.ndarray, ...]:
        """Every parameter as a read-only array over the offers: alpha and beta of click,
        purchase and refund, then mu, kappa, alpha and beta of the amount (10 arrays)."""
        return self._arrays

    def draw_factors(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        """n joint draws of every factor of every offer: {factor: (n, K) array}."""
        (ca, cb, pa, pb, ra, rb, mu, kappa, alpha, beta) = self.parameters()
        k = ca.size
        return {
            "click": rng.beta(ca, cb, size=(n, k)),
            "purchase": rng.beta(pa, pb, size=(n, k)),
            "refund": rng.beta(ra, rb, size=(n, k)),
            "amount": draw_means(mu, kappa, alpha, beta, rng, n),
        }

    def draw_values(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n Thompson draws of every offer's value per impression: an (n, K) array."""
        return offer_values(self.draw_factors(rng, n))


def offer_values(draws: Mapping[str, np.ndarray]) -> np.ndarray:
    """click x purchase x (1 - refund) x amount, element by element."""
    return draws["click"] * draws["purchase"] * (1.0 - draws["refund"]) * draws["amount"]


def win_frequencies(values: np.ndarray) -> np.ndarray:
    """Share of rows each column wins: the Monte Carlo choice probabilities.

    Each estimate has standard error sqrt(P (1 - P) / n) <= 0.005 for n = 10,000 rows.
    """
    n, k = values.shape
    return np.bincount(np.argmax(values, axis=1), minlength=k) / n


def factor_strength(
    snapshot: SlotSnapshot, family: str, factor: str, config: RevenueConfig
) -> float:
    """Pooling strength of the purchase or refund factor over the leaves of a family.

    slot_prior_strength (bandit.pooling) of (clicks, purchases) per leaf and offer for the
    purchase factor, of (purchases, refunds) for the refund factor: one strength per family
    and factor, as ThompsonPolicy has one per family for clicks. Fractional credit is rounded
    to whole counts: the strength is a moment estimate of how alike the leaves are, which
    half a purchase does not change.
    """
    leaves = [s for s in snapshot.segments if s != GLOBAL and segment_family(s) == family]
    creative_ids = dict.fromkeys(c for leaf in leaves for c in snapshot.segments[leaf])
    by_creative = {}
    for creative_id in creative_ids:
        rows = []
        for leaf in leaves:
            counts = snapshot.counts(leaf, creative_id).clamped()
            totals = snapshot.revenue_totals(leaf, creative_id)
            if factor == "purchase":
                trials, successes = counts.clicks, totals.purchases
            else:
                trials, successes = round(totals.purchases), totals.refunds
            rows.append(ArmCounts(int(trials), min(round(successes), int(trials))))
        by_creative[creative_id] = rows
    return slot_prior_strength(by_creative, config.thompson.pooling)


def offer_posteriors(
    snapshot: SlotSnapshot,
    used: str,
    creative_ids: Sequence[str],
    prices: Sequence[float | None],
    config: RevenueConfig,
    click: Sequence[BetaPosterior],
    strength: Mapping[str, float],
) -> OfferPosteriors:
    """Every factor of every offer in segment used ("global" or a leaf with impressions).

    Slot-wide: each prior updated with the global counts and totals. Leaf: purchase and
    refund rates pooled toward the slot-wide posterior with strength["purchase"] and
    strength["refund"], each capped by that posterior's own alpha + beta (pooled_beta); the
    amount starts from pooled_normal_gamma of the
    slot-wide posterior and adds the leaf's purchases. click is given (ThompsonPolicy's
    posteriors, seeded priors and pooling included).
    """
    purchase, refund, amount = [], [], []
    for creative_id, price in zip(creative_ids, prices):
        g_counts = snapshot.counts(GLOBAL, creative_id).clamped()
        g_totals = snapshot.revenue_totals(GLOBAL, creative_id)
        g_purchase = _beta_updated(config.purchase_prior, g_totals.purchases, g_counts.clicks)
        g_refund = _beta_updated(config.refund_prior, g_totals.refunds, g_totals.purchases)
        g_amount = config.amount_prior(price).updated(
            g_totals.purchases, g_totals.gross, g_totals.gross_sq
        )
        if used == GLOBAL:
            purchase.append(g_purchase)
            refund.append(g_refund)
            amount.append(g_amount)
            continue
        counts = snapshot.counts(used, creative_id).clamped()
        totals = snapshot.revenue_totals(used, creative_id)
        s_purchase = _capped(g_purchase, strength["purchase"])
        s_refund = _capped(g_refund, strength["refund"])
        purchase.append(pooled_beta(totals.purchases, counts.clicks, g_purchase, s_purchase))
        refund.append(pooled_beta(totals.refunds, totals.purchases, g_refund, s_refund))
        leaf_prior = pooled_normal_gamma(g_amount, config.amount_pooling_strength)
        amount.append(leaf_prior.updated(totals.purchases, totals.gross, totals.gross_sq))
    return OfferPosteriors(tuple(click), tuple(purchase), tuple(refund), tuple(amount))


def _capped(parent: BetaPosterior, strength: float) -> float:
    """The pooling strength, at most parent alpha + beta.

    A leaf never trusts the slot-wide rate more than the slot-wide posterior trusts itself:
    purchases are rare, and an offer with 10 clicks slot-wide must not hold a leaf at its
    slot-wide rate with the weight of 30 clicks.
    """
    return min(strength, parent.alpha + parent.beta)


def _beta_updated(prior: tuple[float, float], successes: float, trials: float) -> BetaPosterior:
    """Beta(a0 + k, b0 + n - k) for prior (a0, b0), with k clamped to [0, n].

    The same as pooling toward the prior's mean with strength a0 + b0.
    """
    alpha, beta = prior
    return pooled_beta(successes, trials, BetaPosterior(alpha, beta), alpha + beta)


def revenue_posteriors(
    snapshot: SlotSnapshot,
    segment: str | None,
    creative_ids: Sequence[str],
    prices: Prices | None,
    config: RevenueConfig,
) -> tuple[str, OfferPosteriors]:
    """The segment used and every factor posterior of every offer (no caching).

    The counterpart of bandit.policies.posteriors_for for revenue slots.
    """
    used = segment_used(snapshot, segment)
    strength = {}
    if used != GLOBAL:
        family = segment_family(used)
        strength = {f: factor_strength(snapshot, family, f, config) for f in ("purchase", "refund")}
    _, click = posteriors_for(snapshot, used, creative_ids, config.thompson)
    in_order = _price_key(creative_ids, prices)
    return used, offer_posteriors(snapshot, used, creative_ids, in_order, config, click, strength)


class RevenuePolicy(ThompsonPolicy):
    """Thompson sampling on the value per impression of offers, shared by a worker's threads.

    The same verbs and caches as ThompsonPolicy: decide() takes the next round of a block of
    joint draws (one draw per factor per offer, value = product, argmax), and the propensity
    is the share of 10,000 joint draws the chosen offer wins (standard error <= 0.005; an
    offer that wins none gets 1 / (2 n_draws)). Posteriors and propensities are computed once
    per snapshot, segment used, list of creatives and their prices.
    """

    def __init__(self, config: RevenueConfig, rng: np.random.Generator) -> None:
        if not isinstance(config, RevenueConfig):
            raise TypeError(f"config must be a RevenueConfig, but {config!r} is given")
        super().__init__(config.thompson, rng)
        self._revenue_config = config
        self._factor_strengths: LruCache[float] = LruCache(CACHE_ENTRIES)

    @property
    def revenue_config(self) -> RevenueConfig:
        """The whole configuration (config is its thompson part, as for ThompsonPolicy)."""
        return self._revenue_config

    def decide(
        self,
        snapshot: SlotSnapshot,
        segment: str | None,
        creative_ids: Sequence[str],
        prices: Prices | None = None,
    ) -> Decision:
        """Pick one offer by one joint Thompson draw; prices maps creative_id -> price (or None)."""
        key = _price_key(creative_ids, prices)
        return self._decision(self._lookup(snapshot, segment, creative_ids, key))

    def probabilities(
        self,
        snapshot: SlotSnapshot,
        segment: str | None,
        creative_ids: Sequence[str],
        prices: Prices | None = None,
    ) -> tuple[str, np.ndarray]:
        """The segment used and every offer's choice probability (read-only array)."""
        arms = self._lookup(snapshot, segment, creative_ids, _price_key(creative_ids, prices))
        return arms.segment, arms.probabilities

    def _compute_arms(
        self, snapshot: SlotSnapshot, used: str, ids: tuple[str, ...], extra: tuple
    ) -> Arms:
        """Factor posteriors, their Monte Carlo choice probabilities and a block of draws."""
        posteriors = self._offer_posteriors(snapshot, used, ids, extra)
        probabilities = self._monte_carlo(
            posteriors.parameters(),
            lambda n: win_frequencies(posteriors.draw_values(self._rng, n)) * n,
        )
        return Arms(used, ids, probabilities, BlockChoices(posteriors.draw_values, DRAW_BLOCK))

    def _offer_posteriors(
        self, snapshot: SlotSnapshot, used: str, ids: tuple[str, ...], prices: tuple
    ) -> OfferPosteriors:
        """offer_posteriors with the leaf strengths cached per snapshot and family."""
        strength = {}
        if used != GLOBAL:
            family = segment_family(used)
            strength = {
                factor: self._factor_strength(snapshot, family, factor)
                for factor in ("purchase", "refund")
            }
        click = self._click_posteriors(snapshot, used, ids)
        return offer_posteriors(snapshot, used, ids, prices, self._revenue_config, click, strength)

    def _factor_strength(self, snapshot: SlotSnapshot, family: str, factor: str) -> float:
        """factor_strength, computed once per snapshot, family and factor."""
        key = (snapshot.version, snapshot.serial, family, factor)
        strength = self._factor_strengths.get(key)
        if strength is None:
            computed = factor_strength(snapshot, family, factor, self._revenue_config)
            strength = self._factor_strengths.setdefault(key, computed)
        return strength


def _price_key(creative_ids: Sequence[str], prices: Prices | None) -> tuple[float | None, ...]:
    """One price (or None) per creative, in order: part of the cache key."""
    prices = prices or {}
    key = tuple(prices.get(creative_id) for creative_id in creative_ids)
    for creative_id, price in zip(creative_ids, key):
        if price is not None:
            require_positive(f"price of {creative_id!r}", price)
    return tuple(None if price is None else float(price) for price in key)
