"""bandit.savings: the non-performer test, the saved share and the gain over a uniform split."""
import numpy as np
import pytest

from bandit.savings import (
    beta_arm_values,
    drawn_arm_values,
    group_savings,
    non_performers,
    total_savings,
)

IDS = ("a", "b", "c")


def test_a_creative_is_a_non_performer_only_when_its_upper_bound_is_below_the_best_mean():
    means = np.array([0.10, 0.05, 0.09])
    upper = np.array([0.12, 0.08, 0.11])
    assert non_performers(means, upper).tolist() == [False, True, False]
    assert non_performers(np.array([0.1]), np.array([0.05])).tolist() == [False]  # never the best itself
    assert non_performers(np.zeros(0), np.zeros(0)).tolist() == []


def test_beta_upper_bound_is_the_upper_end_of_the_equal_tailed_interval():
    from bandit.beta import BetaPosterior

    values = beta_arm_values(IDS, np.array([3.0, 10.0, 50.0]), np.array([97.0, 90.0, 950.0]), np.random.default_rng(0))
    for j, (a, b) in enumerate([(3, 97), (10, 90), (50, 950)]):
        posterior = BetaPosterior(a, b)
        assert values.upper[j] == pytest.approx(posterior.credible_interval(0.95)[1], rel=1e-9)
        assert values.means[j] == pytest.approx(posterior.mean)


def clear_winner(rng):
    """a: 1,000 impressions at 10%; b, c: 1,000 at 2% each (their upper bounds are far below 10%)."""
    return beta_arm_values(IDS, np.array([101.0, 21.0, 21.0]), np.array([901.0, 981.0, 981.0]), rng)


def test_saved_share_is_zero_for_a_uniform_split_and_one_when_losers_get_nothing():
    values = clear_winner(np.random.default_rng(1))
    uniform = group_savings(values, [100, 100, 100])
    assert uniform.non_performers == ("b", "c")
    assert uniform.uniform_non_performer_impressions == 200
    assert total_savings([uniform]).saved_share == pytest.approx(0.0)
    assert total_savings([group_savings(values, [300, 0, 0])]).saved_share == pytest.approx(1.0)
    assert total_savings([group_savings(values, [100, 150, 50])]).saved_share == pytest.approx(0.0)
    assert total_savings([group_savings(values, [0, 300, 0])]).saved_share == pytest.approx(-0.5)


def test_saved_share_sums_groups_before_dividing():
    rng = np.random.default_rng(2)
    # Group 1: 300 impressions, 2 non-performers got 20 (uniform: 200). Group 2: one creative, nothing to save.
    first = group_savings(clear_winner(rng), [280, 10, 10])
    second = group_savings(beta_arm_values(("a",), np.array([5.0]), np.array([50.0]), rng), [100])
    total = total_savings([first, second])
    assert total.impressions == 400
    assert (total.non_performer_impressions, total.uniform_non_performer_impressions) == (20, 200)
    assert total.saved_share == pytest.approx(0.9)
    assert total_savings([second]).saved_share is None


def test_gain_over_uniform_is_the_value_of_the_shifted_impressions_with_an_interval_that_covers_it():
    # True rates 10%, 2%, 2%; posteriors from 1,000 impressions each. Serving 280/10/10 instead of 100 each
    # moves 180 impressions from 2% to 10%: a true gain of 180 x 0.08 = 14.4 clicks.
    values = clear_winner(np.random.default_rng(3))
    savings = total_savings([group_savings(values, [280, 10, 10])])
    expected = 180 * (101 / 1002) - 90 * (21 / 1002) * 2
    assert savings.gain == pytest.approx(expected)
    low, high = savings.gain_ci95
    assert low < 14.4 < high
    # The interval's width follows the posterior sd of the gain: sqrt(180^2 var_a + 2 x 90^2 var_b)
    # = about 1.8 clicks, so the 95% interval is about 7 clicks wide (4,000 draws: within 10%).
    assert 6.3 < high - low < 7.8
    assert savings.served_value - savings.uniform_value == pytest.approx(savings.gain)


def test_drawn_values_use_the_mean_and_upper_quantile_of_the_draws():
    rng = np.random.default_rng(4)
    draws = np.column_stack([rng.normal(1.0, 0.1, 10_000), rng.normal(0.5, 0.1, 10_000)])
    values = drawn_arm_values(("big", "small"), draws)
    # The 97.5% quantile of N(0.5, 0.1) is 0.696; 10,000 draws put it within about 0.01.
    assert values.upper[1] == pytest.approx(0.696, abs=0.01)
    assert group_savings(values, [90, 10]).non_performers == ("small",)


def test_bad_input_is_refused_with_a_clear_message():
    values = clear_winner(np.random.default_rng(5))
    with pytest.raises(ValueError, match="impressions must be 3 counts"):
        group_savings(values, [1, 2])
    with pytest.raises(ValueError, match="impressions must be 3 counts"):
        group_savings(values, [1, -2, 3])
