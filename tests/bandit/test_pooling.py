import math

import numpy as np
import pytest

from bandit import (
    ArmCounts,
    BetaPosterior,
    PoolingConfig,
    estimate_prior_strength,
    pooled_posterior,
    slot_prior_strength,
)

WIDE = PoolingConfig(min_strength=1.0, max_strength=1000.0, default_strength=20.0)


def simulate_cities(mean, strength, n_cities, impressions, rng):
    """Counts of one creative in cities whose rates are drawn from Beta(m s, (1 - m) s)."""
    rates = rng.beta(mean * strength, (1.0 - mean) * strength, size=n_cities)
    clicks = rng.binomial(impressions, rates)
    return [ArmCounts(impressions, int(k)) for k in clicks]


def test_strength_is_recovered_from_simulated_cities():
    # The estimate rests on the spread of 200 city rates. The sample variance of
    # 200 draws of Beta(8, 32) has relative standard error sqrt((kurtosis - 1) / 200)
    # = sqrt((3.17 - 1) / 200) = 0.104; s + 1 is inversely proportional to it, so
    # s_hat has about 11% relative error (binomial noise of 2,000 impressions,
    # 0.16 / 2000 = 8e-5 against a variance of 3.9e-3, adds little).
    # A factor 1.5 is about 3.8 standard errors for every seed; the mean over
    # 20 seeds has standard error 0.11 / sqrt(20) = 2.4%, so 10% is 4 of those.
    estimates = [
        estimate_prior_strength(
            simulate_cities(0.2, 40.0, 200, 2_000, np.random.default_rng(seed)), WIDE
        )
        for seed in range(20)
    ]
    assert all(40.0 / 1.5 < s < 40.0 * 1.5 for s in estimates)
    assert np.mean(estimates) == pytest.approx(40.0, rel=0.10)


def test_binomial_noise_is_not_taken_for_spread():
    # All 100 cities share one 5% rate; with 50 impressions each the raw city rates
    # spread widely (sd 0.03), all of it binomial noise. S then varies like
    # m(1 - m) chi2(99), so tau^2 = 0 +- m(1 - m) sqrt(2 * 99) / (99 * 49)
    # = 0 +- 0.003 m(1 - m), while s <= 100 would need tau^2 >= m(1 - m) / 101:
    # over 3 standard errors away, so the median of 20 seeds stays above 100.
    estimates = [
        estimate_prior_strength(
            [ArmCounts(50, int(k)) for k in np.random.default_rng(seed).binomial(50, 0.05, 100)],
            WIDE,
        )
        for seed in range(20)
    ]
    assert np.median(estimates) > 100.0


def test_indistinguishable_cities_give_max_strength():
    cities = [ArmCounts(1_000, 50)] * 5
    assert estimate_prior_strength(cities, PoolingConfig()) == 100.0


def test_opposite_cities_give_min_strength():
    cities = [ArmCounts(500, 0), ArmCounts(500, 500), ArmCounts(500, 0), ArmCounts(500, 500)]
    assert estimate_prior_strength(cities, PoolingConfig()) == 2.0


@pytest.mark.parametrize(
    "cities",
    [
        [],
        [ArmCounts(1_000, 50)],
        [ArmCounts(1_000, 50), ArmCounts(), ArmCounts()],
        [ArmCounts(1, 0), ArmCounts(1, 1), ArmCounts(1, 0)],
    ],
    ids=["no city", "one city", "one city with impressions", "single impressions"],
)
def test_default_strength_when_spread_cannot_be_estimated(cities):
    assert estimate_prior_strength(cities, PoolingConfig(default_strength=7.0)) == 7.0


def test_slot_strength_is_the_impression_weighted_mean():
    city_counts_by_creative = {
        "spread": [ArmCounts(500, 0), ArmCounts(500, 500)],  # 1,000 impressions, min 2
        "alike": [ArmCounts(1_500, 150), ArmCounts(1_500, 150)],  # 3,000 impressions, max 100
        "one city": [ArmCounts(9_000, 90)],  # cannot be estimated: left out
    }
    expected = (2.0 * 1_000 + 100.0 * 3_000) / 4_000
    assert slot_prior_strength(city_counts_by_creative, PoolingConfig()) == pytest.approx(expected)


def test_slot_strength_defaults_when_nothing_can_be_estimated():
    config = PoolingConfig(default_strength=11.0)
    assert slot_prior_strength({}, config) == 11.0
    assert slot_prior_strength({"a": [ArmCounts(10, 1)], "b": []}, config) == 11.0


def test_pooled_posterior_adds_city_counts_to_the_parent_centred_prior():
    parent = BetaPosterior(3.0, 7.0)  # mean 0.3
    pooled = pooled_posterior(ArmCounts(40, 10), parent, strength=20.0)
    assert pooled.alpha == pytest.approx(0.3 * 20.0 + 10)
    assert pooled.beta == pytest.approx(0.7 * 20.0 + 30)


def test_sparse_city_stays_near_the_parent():
    # 10 impressions against strength 40: the city's own rate gets weight 10 / 50.
    parent = BetaPosterior(501.0, 9_501.0)
    city = ArmCounts(10, 2)
    pooled = pooled_posterior(city, parent, strength=40.0)
    assert pooled.mean == pytest.approx(0.8 * parent.mean + 0.2 * 0.2)
    assert abs(pooled.mean - parent.mean) < abs(pooled.mean - 0.2) / 3


def test_dense_city_follows_its_own_data():
    # Even at the strongest pooling, 100,000 impressions outweigh the prior:
    # the standard error of the city's rate is sqrt(0.08 * 0.92 / 1e5) = 0.00086.
    parent = BetaPosterior(501.0, 9_501.0)
    pooled = pooled_posterior(ArmCounts(100_000, 8_000), parent, strength=100.0)
    standard_error = math.sqrt(0.08 * 0.92 / 100_000)
    assert abs(pooled.mean - 0.08) < 3 * standard_error


def test_pooled_posterior_clamps_city_clicks():
    pooled = pooled_posterior(ArmCounts(4, 6), BetaPosterior(1.0, 1.0), strength=2.0)
    assert pooled == BetaPosterior(1.0 + 4, 1.0)


def test_pooled_posterior_needs_positive_strength():
    with pytest.raises(ValueError, match="strength must be finite and > 0, but 0.0 is given"):
        pooled_posterior(ArmCounts(), BetaPosterior(1.0, 1.0), strength=0.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"min_strength": 2.0, "max_strength": 1.0},
            "max_strength must be >= min_strength, but 1.0 < 2.0 is given",
        ),
        (
            {"min_strength": 2.0, "default_strength": 1.0},
            "default_strength must be >= min_strength, but 1.0 < 2.0 is given",
        ),
        (
            {"max_strength": 10.0, "default_strength": 20.0},
            "max_strength must be >= default_strength, but 10.0 < 20.0 is given",
        ),
        ({"min_strength": 0.0}, "min_strength must be finite and > 0, but 0.0 is given"),
        (
            {"max_strength": float("inf")},
            "max_strength must be finite and > 0, but inf is given",
        ),
    ],
)
def test_pooling_config_is_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PoolingConfig(**kwargs)
