"""Discounted evidence: weights, bucket sums, discounted priors."""
import numpy as np
import pytest

from bandit import ArmCounts, BetaPosterior
from bandit.discount import (
    MAX_BUCKETS,
    DiscountedCounts,
    bucket_start,
    bucket_weights,
    bucket_width_s,
    discount_buckets,
    discount_prior,
    discount_priors,
    discount_revenue_buckets,
    evidence_weight,
    first_bucket_kept,
    first_bucket_read,
)
from bandit.revenue_model import RevenueTotals


def test_weight_halves_every_half_life():
    assert evidence_weight(0, 60) == 1.0
    assert evidence_weight(60, 60) == pytest.approx(0.5)
    assert evidence_weight(180, 60) == pytest.approx(0.125)
    assert evidence_weight(-5, 60) == 1.0  # a clock a little ahead never counts more than fully


def test_bucket_width_is_a_quarter_and_thirty_buckets_cover_seven_and_a_half_half_lives():
    assert bucket_width_s(60) == 15
    assert bucket_width_s(3) == 1  # never 0
    assert bucket_width_s(86_400) == 21_600
    now = 1_000_007.0
    width = bucket_width_s(60)
    assert bucket_start(now, width) == 1_000_005
    oldest = first_bucket_read(now, width)
    assert (bucket_start(now, width) - oldest) // width + 1 == MAX_BUCKETS
    with pytest.raises(ValueError, match="half_life_s must be >= 1"):
        bucket_width_s(0)


def test_bucket_weight_is_taken_at_the_middle_of_the_elapsed_part():
    weights = bucket_weights(np.array([0, 15, 30]), 15, now_s=40.0, half_life_s=60)
    # middles: 7.5, 22.5, and (30 + 40) / 2 = 35 for the current bucket
    assert weights == pytest.approx([0.5 ** (32.5 / 60), 0.5 ** (17.5 / 60), 0.5 ** (5 / 60)])


def test_discounted_sums_match_the_formula():
    rows = [(0, "global", "a", 100, 10), (60, "global", "a", 50, 1), (60, "city:x", "b", 4, -1)]
    got = discount_buckets(rows, now_s=135.0, half_life_s=60)  # width 15; middles 7.5 and 67.5
    w_old, w_new = 0.5 ** (127.5 / 60), 0.5 ** (67.5 / 60)
    assert got["global"]["a"].impressions == pytest.approx(100 * w_old + 50 * w_new)
    assert got["global"]["a"].clicks == pytest.approx(10 * w_old + 1 * w_new)
    assert got["city:x"]["b"].impressions == pytest.approx(4 * w_new)
    assert got["city:x"]["b"].clicks == 0.0
    assert discount_buckets([], 0.0, 60) == {}


def test_revenue_totals_are_discounted_with_the_weights_of_the_counts():
    rows = [(0, "global", "a", 2.0, 0.5, 30.0, 500.0), (60, "global", "a", 1.0, 0.0, 5.0, 25.0),
            (60, "city:x", "b", 0.5, -1e-15, 2.0, 8.0)]  # float noise of a moved total counts as 0
    got = discount_revenue_buckets(rows, now_s=135.0, half_life_s=60)
    w_old, w_new = 0.5 ** (127.5 / 60), 0.5 ** (67.5 / 60)
    assert got["global"]["a"].purchases == pytest.approx(2.0 * w_old + 1.0 * w_new)
    assert got["global"]["a"].refunds == pytest.approx(0.5 * w_old)
    assert got["global"]["a"].gross == pytest.approx(30.0 * w_old + 5.0 * w_new)
    assert got["global"]["a"].gross_sq == pytest.approx(500.0 * w_old + 25.0 * w_new)
    assert got["city:x"]["b"] == RevenueTotals(0.5 * w_new, 0.0, 2.0 * w_new, 8.0 * w_new)
    counts = discount_buckets([(0, "global", "a", 1, 1), (60, "global", "a", 1, 1)], 135.0, 60)
    assert counts["global"]["a"].clicks == pytest.approx(w_old + w_new)  # the same weights
    assert discount_revenue_buckets([], 0.0, 60) == {}


def test_the_first_bucket_kept_is_older_than_every_bucket_read_or_written():
    width, now = bucket_width_s(60), 1_000_007.0
    # late evidence for 1 day: the bucket holding now - 1 day, far older than the 30 buckets read
    assert first_bucket_kept(now, width, 86_400) == bucket_start(now - 86_400, width)
    # nothing late: the buckets read decide
    assert first_bucket_kept(now, width, 0) == first_bucket_read(now, width)
    for late in (0, 100, 86_400, 86_401):  # the newest bucket deleted (kept - width) ends before now - late
        kept = first_bucket_kept(now, width, late)
        assert kept <= now - late and kept <= first_bucket_read(now, width)


def test_discounted_counts_add_with_arm_counts_and_clamp():
    total = ArmCounts(2, 1) + DiscountedCounts(0.5, 0.25)
    assert isinstance(total, DiscountedCounts) and total == DiscountedCounts(2.5, 1.25)
    assert sum([DiscountedCounts(1.5, 2.0)], ArmCounts()).clamped() == DiscountedCounts(1.5, 1.5)
    assert BetaPosterior.from_counts(DiscountedCounts(10.5, 2.5)) == BetaPosterior(3.5, 9.0)
    with pytest.raises(ValueError, match="impressions must be a finite number >= 0"):
        DiscountedCounts(-1.0, 0.0)


def test_a_seeded_prior_fades_toward_uniform_and_is_dropped():
    prior = BetaPosterior(21.0, 181.0)
    assert discount_prior(prior, 0, 60) == BetaPosterior(21.0, 181.0)
    half = discount_prior(prior, 60, 60)
    assert half.alpha == pytest.approx(11.0) and half.beta == pytest.approx(91.0)
    assert discount_prior(prior, 60 * 7, 60) is None  # 0.5 ** 7 < 1 %
    weak = discount_prior(BetaPosterior(0.2, 0.5), 60, 60)  # below 1: still a proper Beta
    assert weak.alpha == pytest.approx(0.6) and weak.beta == pytest.approx(0.75)
    got = discount_priors({"global": {"a": (prior, 100.0), "b": (prior, 100.0 - 600)}}, 160.0, 60)
    assert set(got["global"]) == {"a"}
