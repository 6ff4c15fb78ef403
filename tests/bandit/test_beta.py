import pytest
from scipy import stats

from bandit import ArmCounts, BetaPosterior


def test_counts_add_up():
    assert ArmCounts(10, 2) + ArmCounts(5, 1) == ArmCounts(15, 3)


def test_counts_default_to_zero():
    assert ArmCounts() == ArmCounts(impressions=0, clicks=0)


def test_clamped_limits_clicks_to_impressions():
    assert ArmCounts(impressions=5, clicks=9).clamped() == ArmCounts(5, 5)
    assert ArmCounts(impressions=5, clicks=3).clamped() == ArmCounts(5, 3)


@pytest.mark.parametrize(
    ("impressions", "clicks", "message"),
    [
        (-1, 0, "impressions must be >= 0, but -1 is given"),
        (3, -2, "clicks must be >= 0, but -2 is given"),
    ],
)
def test_negative_counts_are_rejected(impressions, clicks, message):
    with pytest.raises(ValueError, match=message):
        ArmCounts(impressions, clicks)


def test_fractional_counts_are_rejected():
    with pytest.raises(TypeError, match="impressions must be an integer, but 1.5 is given"):
        ArmCounts(1.5, 0)


def test_posterior_adds_clicks_to_alpha_and_misses_to_beta():
    assert BetaPosterior.from_counts(ArmCounts(100, 7)) == BetaPosterior(8.0, 94.0)
    assert BetaPosterior.from_counts(ArmCounts(100, 7), 2.0, 3.0) == BetaPosterior(9.0, 96.0)


def test_posterior_clamps_clicks_first():
    assert BetaPosterior.from_counts(ArmCounts(5, 9)) == BetaPosterior(6.0, 1.0)


def test_posterior_without_data_is_the_prior():
    assert BetaPosterior.from_counts(ArmCounts(), 0.5, 4.0) == BetaPosterior(0.5, 4.0)


@pytest.mark.parametrize(("alpha", "beta"), [(8.0, 94.0), (0.5, 0.5), (300.0, 2.0)])
def test_moments_match_scipy(alpha, beta):
    posterior = BetaPosterior(alpha, beta)
    assert posterior.mean == pytest.approx(stats.beta.mean(alpha, beta), rel=1e-12)
    assert posterior.variance == pytest.approx(stats.beta.var(alpha, beta), rel=1e-12)


def test_credible_interval_matches_scipy_and_holds_the_mean():
    posterior = BetaPosterior(8.0, 94.0)
    lower, upper = posterior.credible_interval(0.9)
    assert (lower, upper) == pytest.approx(stats.beta.interval(0.9, 8.0, 94.0), rel=1e-12)
    assert lower < posterior.mean < upper


def test_credible_interval_narrows_with_data():
    # Same 5% click rate; the width shrinks like 1 / sqrt(n), so 100x the data is ~10x narrower.
    few = BetaPosterior.from_counts(ArmCounts(100, 5)).credible_interval()
    many = BetaPosterior.from_counts(ArmCounts(10_000, 500)).credible_interval()
    assert many[0] > few[0] and many[1] < few[1]
    assert (many[1] - many[0]) < (few[1] - few[0]) / 5


@pytest.mark.parametrize("level", [0.0, 1.0, 1.5])
def test_credible_level_must_be_inside_zero_one(level):
    with pytest.raises(ValueError, match=f"level must be in \\(0, 1\\), but {level} is given"):
        BetaPosterior(1.0, 1.0).credible_interval(level)


@pytest.mark.parametrize(
    ("alpha", "beta", "message"),
    [
        (0.0, 1.0, "alpha must be finite and > 0, but 0.0 is given"),
        (1.0, -2.0, "beta must be finite and > 0, but -2.0 is given"),
        (float("inf"), 1.0, "alpha must be finite and > 0, but inf is given"),
    ],
)
def test_posterior_parameters_must_be_positive(alpha, beta, message):
    with pytest.raises(ValueError, match=message):
        BetaPosterior(alpha, beta)
