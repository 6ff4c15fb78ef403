import numpy as np
import pytest
from scipy import integrate, stats

from bandit import ThompsonDraws, choice_probabilities, thompson_draw

ALPHAS = np.array([3.0, 5.0, 4.0, 2.0])
BETAS = np.array([30.0, 40.0, 35.0, 30.0])


def test_probabilities_sum_to_one():
    probabilities = choice_probabilities(ALPHAS, BETAS, np.random.default_rng(0))
    assert probabilities.shape == (4,)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(probabilities >= 0)


def test_single_arm_is_always_chosen():
    rng = np.random.default_rng(0)
    assert choice_probabilities(np.array([2.0]), np.array([5.0]), rng).tolist() == [1.0]
    assert thompson_draw(np.array([2.0]), np.array([5.0]), rng) == 0


def test_no_arms_is_an_error():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="at least one arm is needed"):
        choice_probabilities(np.array([]), np.array([]), rng)
    with pytest.raises(ValueError, match="at least one arm is needed"):
        thompson_draw(np.array([]), np.array([]), rng)


def test_parameter_shapes_must_agree():
    with pytest.raises(ValueError, match=r"but shapes \(2,\) and \(3,\) are given"):
        choice_probabilities(np.ones(2), np.ones(3), np.random.default_rng(0))


def test_two_arm_probability_matches_numerical_integration():
    # P(theta_1 > theta_2) = integral of f_1(x) F_2(x) dx. The Monte Carlo estimate
    # with 100,000 draws has standard error sqrt(p (1 - p) / 1e5) <= 0.0016.
    (a1, a2), (b1, b2) = (6.0, 4.0), (40.0, 35.0)
    exact, _ = integrate.quad(lambda x: stats.beta.pdf(x, a1, b1) * stats.beta.cdf(x, a2, b2), 0, 1)
    estimate = choice_probabilities(
        np.array([a1, a2]), np.array([b1, b2]), np.random.default_rng(1), n_draws=100_000
    )
    standard_error = np.sqrt(exact * (1 - exact) / 100_000)
    assert abs(estimate[0] - exact) < 4 * standard_error


def test_propensity_matches_frequency_of_thompson_draws():
    # Two independent estimates of the same p: the share of n = 20,000 draws and
    # the Monte Carlo estimate from N = 100,000. Their difference has standard
    # error sqrt(p (1 - p) (1 / n + 1 / N)); 4 of those is a false alarm in ~1e-4.
    n, big_n = 20_000, 100_000
    rng = np.random.default_rng(2)
    probabilities = choice_probabilities(ALPHAS, BETAS, rng, n_draws=big_n)
    chosen = [thompson_draw(ALPHAS, BETAS, rng) for _ in range(n)]
    frequencies = np.bincount(chosen, minlength=len(ALPHAS)) / n
    standard_error = np.sqrt(probabilities * (1 - probabilities) * (1 / n + 1 / big_n))
    assert np.all(np.abs(frequencies - probabilities) < 4 * standard_error)


def test_same_seed_same_probabilities():
    first = choice_probabilities(ALPHAS, BETAS, np.random.default_rng(3), n_draws=1_000)
    second = choice_probabilities(ALPHAS, BETAS, np.random.default_rng(3), n_draws=1_000)
    assert np.array_equal(first, second)


def test_draw_count_must_be_positive():
    with pytest.raises(ValueError, match="n_draws must be >= 1, but 0 is given"):
        choice_probabilities(ALPHAS, BETAS, np.random.default_rng(0), n_draws=0)


def test_block_draws_choose_like_single_draws():
    # ThompsonDraws only batches the draws: its choices must have the distribution of
    # thompson_draw's. Compare n = 20,000 block choices (blocks of 7, so many refills) with
    # N = 100,000 Monte Carlo draws; the difference has standard error
    # sqrt(p (1 - p) (1 / n + 1 / N)); 4 of those is a false alarm in ~1e-4.
    n, big_n = 20_000, 100_000
    rng = np.random.default_rng(11)
    probabilities = choice_probabilities(ALPHAS, BETAS, rng, n_draws=big_n)
    draws = ThompsonDraws(ALPHAS, BETAS, block_size=7)
    chosen = [draws.next(rng) for _ in range(n)]
    frequencies = np.bincount(chosen, minlength=len(ALPHAS)) / n
    standard_error = np.sqrt(probabilities * (1 - probabilities) * (1 / n + 1 / big_n))
    assert np.all(np.abs(frequencies - probabilities) < 4 * standard_error)


def test_block_draws_are_shared_safely_between_threads():
    # 8 threads take 500 choices each from one buffer: every call returns a valid arm, and
    # together they still follow the choice probabilities (same bound as above, n = 4,000).
    from concurrent.futures import ThreadPoolExecutor

    draws = ThompsonDraws(ALPHAS, BETAS, block_size=64)
    rng = np.random.default_rng(12)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: [draws.next(rng) for _ in range(500)], range(8)))
    chosen = [index for result in results for index in result]
    assert len(chosen) == 4000 and set(chosen) <= set(range(len(ALPHAS)))
    probabilities = choice_probabilities(ALPHAS, BETAS, np.random.default_rng(13), n_draws=100_000)
    frequencies = np.bincount(chosen, minlength=len(ALPHAS)) / 4000
    standard_error = np.sqrt(probabilities * (1 - probabilities) * (1 / 4000 + 1 / 100_000))
    assert np.all(np.abs(frequencies - probabilities) < 4 * standard_error)


def test_block_size_must_be_positive():
    with pytest.raises(ValueError, match="block_size must be >= 1, but 0 is given"):
        ThompsonDraws(ALPHAS, BETAS, block_size=0)
