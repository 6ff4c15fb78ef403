"""Holdout assignment: the configured share, stable per customer, and harmless to pooling."""
import numpy as np
import pytest

from bandit import ArmCounts, PoolingConfig, SlotSnapshot, family_prior_strength
from bandit.holdout import HOLDOUT, holdout_point, in_holdout, uniform_choice

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("share", [0.05, 0.2, 0.5])
def test_share_of_customers_in_the_holdout(share):
    n = 20_000
    inside = sum(in_holdout(share, "acme", "web", "home", f"customer-{i}", RNG) for i in range(n))
    # Hash points are uniform on [0, 1): the count is Binomial(n, share); 4 standard deviations
    # (sqrt(n share (1 - share)) <= 71 here) bound it with a miss chance of ~6e-5.
    assert abs(inside - n * share) < 4 * np.sqrt(n * share * (1 - share))


def test_assignment_is_stable_and_per_slot():
    first = [in_holdout(0.3, "acme", "web", "home", f"c{i}", RNG) for i in range(2000)]
    assert first == [in_holdout(0.3, "acme", "web", "home", f"c{i}", RNG) for i in range(2000)]
    # Another slot draws its own holdout: the groups overlap only by chance (0.3 * 0.3 of customers).
    other = [in_holdout(0.3, "acme", "web", "sidebar", f"c{i}", RNG) for i in range(2000)]
    both = sum(a and b for a, b in zip(first, other))
    assert abs(both - 2000 * 0.09) < 4 * np.sqrt(2000 * 0.09 * 0.91)
    # A larger share keeps everyone who was in (u < 0.3 implies u < 0.5).
    larger = [in_holdout(0.5, "acme", "web", "home", f"c{i}", RNG) for i in range(2000)]
    assert all(b for a, b in zip(first, larger) if a)


def test_points_are_uniform_and_separated():
    points = np.array([holdout_point("t", "web", "s", str(i)) for i in range(10_000)])
    assert points.min() >= 0.0 and points.max() < 1.0
    # Deciles of 10,000 uniform points: each Binomial(10000, 0.1), sd 30; 4 sd is 120.
    counts = np.bincount((points * 10).astype(int), minlength=10)
    assert np.all(np.abs(counts - 1000) < 120), counts
    assert holdout_point("a", "b", "cd", "e") != holdout_point("a", "bc", "d", "e")


def test_without_a_customer_every_request_draws():
    rng = np.random.default_rng(42)
    draws = [in_holdout(0.25, "t", "web", "s", None, rng) for _ in range(8000)]
    assert abs(sum(draws) - 2000) < 4 * np.sqrt(8000 * 0.25 * 0.75)
    assert not any(in_holdout(0.0, "t", "web", "s", "c", rng) for _ in range(100))
    assert all(in_holdout(1.0, "t", "web", "s", None, rng) for _ in range(100))


def test_uniform_choice():
    rng = np.random.default_rng(1)
    picks = np.array([uniform_choice(4, rng)[0] for _ in range(8000)])
    assert uniform_choice(4, rng)[1] == 0.25
    # Each of 4 counts is Binomial(8000, 0.25): sd 38.7, 4 sd ~ 155.
    assert np.all(np.abs(np.bincount(picks, minlength=4) - 2000) < 155)
    with pytest.raises(ValueError):
        uniform_choice(0, rng)


def test_holdout_rows_do_not_disturb_city_pooling():
    cities = {"city:a": {"x": ArmCounts(100, 10), "y": ArmCounts(100, 30)},
              "city:b": {"x": ArmCounts(80, 20), "y": ArmCounts(90, 5)}}
    without = SlotSnapshot(segments={"global": {"x": ArmCounts(180, 30), "y": ArmCounts(190, 35)}, **cities})
    with_holdout = SlotSnapshot(segments={**without.segments, HOLDOUT: {"x": ArmCounts(40, 1), "y": ArmCounts(3, 3)}})
    config = PoolingConfig()
    assert family_prior_strength(with_holdout, "city", config) == family_prior_strength(without, "city", config)
