"""RevenuePolicy: choices, propensities, pooling, caching and the summaries behind /stats."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from bandit import GLOBAL, ArmCounts, SlotSnapshot, ThompsonConfig, ThompsonPolicy
from bandit.policies.revenue import (
    RevenueConfig,
    RevenuePolicy,
    RevenueTotals,
    revenue_posteriors,
)
from bandit.revenue_stats import revenue_summaries

OFFERS = ("spin", "pack", "chest")
PRICES = {"spin": 0.99, "pack": 4.99, "chest": 19.99}


def totals(purchases, price, refunds=0.0):
    """Totals of whole purchases of one price."""
    return RevenueTotals(purchases, refunds, purchases * price, purchases * price * price)


def make_snapshot(version=1):
    # spin: many clicks, few purchases (value ~0.3 x 0.02 x 0.99 = 0.006 per impression);
    # chest: few clicks, many purchases (~0.05 x 0.3 x 19.99 = 0.30); pack in between (~0.06).
    return SlotSnapshot(
        segments={
            GLOBAL: {"spin": ArmCounts(2_000, 600), "pack": ArmCounts(2_000, 120), "chest": ArmCounts(2_000, 100)},
            "segment:whale": {"spin": ArmCounts(500, 150), "pack": ArmCounts(500, 30), "chest": ArmCounts(1_500, 75)},
            "segment:casual": {"spin": ArmCounts(1_500, 450), "pack": ArmCounts(1_500, 90),
                               "chest": ArmCounts(20, 1)},
        },
        revenue={
            GLOBAL: {"spin": totals(12, 0.99), "pack": totals(24, 4.99, 0.5), "chest": totals(30, 19.99)},
            "segment:whale": {"spin": totals(3, 0.99), "pack": totals(6, 4.99), "chest": totals(30, 19.99)},
            "segment:casual": {"spin": totals(9, 0.99), "pack": totals(18, 4.99, 0.5)},
        },
        version=version,
    )


def make_policy(seed=0, draws=10_000):
    return RevenuePolicy(RevenueConfig(thompson=ThompsonConfig(propensity_draws=draws)),
                         np.random.default_rng(seed))


def test_the_revenue_policy_picks_the_offer_that_earns_more_not_the_one_clicked_more():
    snapshot = make_snapshot()
    _, revenue = make_policy().probabilities(snapshot, None, OFFERS, PRICES)
    _, clicks = ThompsonPolicy(ThompsonConfig(), np.random.default_rng(0)).probabilities(snapshot, None, OFFERS)
    # 600 vs 100 clicks out of 2,000: the click policy is sure of spin; 30 chest purchases at 19.99
    # against 12 spins at 0.99 leave the revenue policy as sure of the chest.
    assert clicks[0] > 0.99
    assert revenue[2] > 0.95
    decisions = [make_policy(seed).decide(snapshot, None, OFFERS, PRICES) for seed in range(20)]
    assert sum(d.creative_id == "chest" for d in decisions) >= 17  # Binomial(20, > 0.95): P(< 17) < 0.02


def test_propensities_sum_to_one_and_match_the_choices():
    # Little data: pack and chest are close, so that neither probability is near 0 or 1.
    snapshot = SlotSnapshot(
        segments={GLOBAL: {"spin": ArmCounts(300, 60), "pack": ArmCounts(300, 20), "chest": ArmCounts(300, 10)}},
        revenue={GLOBAL: {"spin": totals(3, 0.99), "pack": totals(3, 4.99), "chest": totals(1, 19.99)}},
    )
    policy = make_policy(seed=5)
    segment, probabilities = policy.probabilities(snapshot, None, OFFERS, PRICES)
    assert segment == GLOBAL
    assert probabilities.sum() == pytest.approx(1.0)
    assert 0.2 < probabilities[1] < 0.8 and 0.2 < probabilities[2] < 0.8
    n = 4_000
    chosen = [policy.decide(snapshot, None, OFFERS, PRICES) for _ in range(n)]
    frequencies = np.array([sum(d.creative_id == c for d in chosen) for c in OFFERS]) / n
    # Each frequency has sd sqrt(p (1 - p) / 4,000) <= 0.0079 and each propensity a Monte Carlo sd
    # <= 0.005 (10,000 draws): together <= 0.0094, so 0.04 is more than 4 sd.
    np.testing.assert_allclose(frequencies, probabilities, atol=0.04)
    for decision in chosen[:50]:
        assert decision.propensity == max(probabilities[OFFERS.index(decision.creative_id)], 0.5 / 10_000)


def shrinkage(leaf, parent, own):
    """How far pooling moved a leaf's rate from its own data toward the parent: 0 none, 1 all the way."""
    return (leaf - own) / (parent - own)


def test_pooling_shrinks_a_sparse_segment_and_leaves_a_dense_one_near_its_own_data():
    # The chest sells at 0.4 after a click to whales (750 clicks: dense) and was clicked twice by
    # casual players, who never bought it (sparse); the pack sells alike everywhere.
    snapshot = SlotSnapshot(
        segments={
            GLOBAL: {"pack": ArmCounts(20_000, 1_000), "chest": ArmCounts(20_000, 1_000)},
            "segment:whale": {"pack": ArmCounts(5_000, 250), "chest": ArmCounts(15_000, 750)},
            "segment:regular": {"pack": ArmCounts(10_000, 500), "chest": ArmCounts(4_960, 248)},
            "segment:casual": {"pack": ArmCounts(5_000, 250), "chest": ArmCounts(40, 2)},
        },
        revenue={
            GLOBAL: {"pack": totals(100, 4.99), "chest": totals(320, 19.99)},
            "segment:whale": {"pack": totals(25, 4.99), "chest": totals(300, 19.99)},
            "segment:regular": {"pack": totals(50, 4.99), "chest": totals(20, 19.99)},
            "segment:casual": {"pack": totals(25, 4.99)},
        },
    )
    config = RevenueConfig()
    offers = ("pack", "chest")
    _, slot_wide = revenue_posteriors(snapshot, None, offers, PRICES, config)
    _, whale = revenue_posteriors(snapshot, "segment:whale", offers, PRICES, config)
    _, casual = revenue_posteriors(snapshot, "segment:casual", offers, PRICES, config)
    parent = slot_wide.purchase[1].mean
    # Weight s / (s + n) on the slot-wide rate, with s between min_strength 2 and max_strength 100:
    # > 2 / 4 = 0.5 for the 2 casual clicks, < 100 / 850 = 0.12 for the 750 whale clicks.
    assert shrinkage(casual.purchase[1].mean, parent, own=0.0) > 0.5
    assert shrinkage(whale.purchase[1].mean, parent, own=0.4) < 0.12


def test_a_sparse_segment_starts_from_what_the_slot_knows():
    snapshot = make_snapshot()
    policy = make_policy()
    _, global_probabilities = policy.probabilities(snapshot, None, OFFERS, PRICES)
    _, casual = policy.probabilities(snapshot, "segment:casual", OFFERS, PRICES)
    # The chest is the slot-wide favourite and casual players have barely seen it: it keeps a
    # real chance in their segment instead of starting from nothing.
    assert global_probabilities[2] > 0.95 and casual[2] > 0.2


def test_a_segment_without_impressions_decides_on_the_slot_wide_posteriors():
    decision = make_policy().decide(make_snapshot(), "segment:unknown", OFFERS, PRICES)
    assert decision.segment == GLOBAL


def test_choice_probabilities_are_cached_per_snapshot_segment_creatives_and_prices():
    policy = make_policy()
    snapshot = make_snapshot()
    first = policy.probabilities(snapshot, None, OFFERS, PRICES)[1]
    assert policy.probabilities(snapshot, None, OFFERS, PRICES)[1] is first
    assert not first.flags.writeable
    no_prices = policy.probabilities(snapshot, None, OFFERS)[1]
    assert no_prices is not first  # the amount priors differ, so does the Monte Carlo
    assert policy.probabilities(make_snapshot(version=2), None, OFFERS, PRICES)[1] is first  # same posteriors


def test_bad_input_is_refused_with_a_reason():
    policy = make_policy()
    with pytest.raises(ValueError, match="price of 'chest' must be finite and > 0"):
        policy.decide(make_snapshot(), None, OFFERS, {"chest": -1.0})
    with pytest.raises(ValueError, match="must be distinct"):
        policy.decide(make_snapshot(), None, ("spin", "spin"), PRICES)
    with pytest.raises(TypeError, match="config must be a RevenueConfig"):
        RevenuePolicy(ThompsonConfig(), np.random.default_rng(0))


def test_threads_share_one_policy():
    policy = make_policy(seed=9)
    snapshots = [make_snapshot(version=v) for v in range(4)]

    def decide(i):
        return policy.decide(snapshots[i % 4], ("segment:whale", "segment:casual", None)[i % 3], OFFERS, PRICES)

    with ThreadPoolExecutor(max_workers=8) as pool:
        decisions = list(pool.map(decide, range(400)))
    assert all(d.creative_id in OFFERS and 0 < d.propensity <= 1 for d in decisions)
    for segment in ("segment:whale", "segment:casual", GLOBAL):
        seen = {d.propensity for d in decisions if d.segment == segment and d.creative_id == "chest"}
        assert len(seen) <= 1  # one cached Monte Carlo per set of posteriors, whatever the thread


def test_summaries_agree_with_the_posteriors():
    snapshot = make_snapshot()
    config = RevenueConfig()
    used, summaries = revenue_summaries(snapshot, "segment:whale", OFFERS, PRICES, config,
                                        np.random.default_rng(2))
    _, posteriors = revenue_posteriors(snapshot, "segment:whale", OFFERS, PRICES, config)
    assert used == "segment:whale"
    assert sum(s.probability_best for s in summaries) == pytest.approx(1.0)
    for j, summary in enumerate(summaries):
        assert summary.creative_id == OFFERS[j]
        assert summary.click_rate == posteriors.click[j].mean
        assert summary.refund_rate == posteriors.refund[j].mean
        lower, upper = summary.value_ci95
        assert lower < summary.value < upper
        # The factors are independent, so E[value] is the product of the means (the amount's floor at 0
        # is out of reach here); the mean of 10,000 draws is within a few percent of it.
        product = summary.click_rate * summary.purchase_rate * (1 - summary.refund_rate) * summary.amount
        assert summary.value == pytest.approx(product, rel=0.05)
    assert max(summaries, key=lambda s: s.value).creative_id == "chest"


def test_the_snapshot_reads_zero_totals_for_what_it_lacks():
    snapshot = make_snapshot()
    assert snapshot.revenue_totals("segment:casual", "chest") == RevenueTotals()
    assert snapshot.revenue_totals("segment:nowhere", "spin") == RevenueTotals()
    assert snapshot.revenue_totals(GLOBAL, "chest") == totals(30, 19.99)
    assert SlotSnapshot({}).revenue == {}
