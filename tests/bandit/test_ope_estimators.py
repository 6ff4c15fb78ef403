"""IPS, SNIPS and DR against policy values known exactly (tests/bandit/ope_world.py)."""
import numpy as np
import pytest

from bandit.ope import (
    BanditLog,
    FixedCandidate,
    OverlapThresholds,
    RewardModel,
    UniformCandidate,
    effective_sample_size,
    evaluate_policy,
    point_estimates,
)
from tests.bandit.ope_world import (
    BEST_TABLE,
    MIXED_TABLE,
    UNIFORM_TABLE,
    TablePolicy,
    draw_log,
    true_value,
)

REPLICATIONS = 200
ROWS = 1000


def replicate_estimates(table: np.ndarray, seed: int, wrong_model: bool = False) -> dict:
    """Point estimates of the table policy on REPLICATIONS independent logs of ROWS rows.

    wrong_model: DR gets q = 0.5 everywhere instead of the fitted reward model."""
    rng = np.random.default_rng(seed)
    policy = TablePolicy(table)
    found = {"ips": [], "snips": [], "dr": [], "naive": []}
    for _ in range(REPLICATIONS):
        log = draw_log(ROWS, rng)
        space = log.action_space()
        target = policy.action_probabilities(log, space)
        logged = log.action_indices(space)
        q = np.full((log.n, len(space)), 0.5) if wrong_model else RewardModel.fit(log, space).predict(log)
        for name, value in point_estimates(log, target, logged, q).items():
            found[name].append(value)
        found["naive"].append(log.rewards.mean())
    return {name: np.array(values) for name, values in found.items()}


@pytest.mark.parametrize("table", [UNIFORM_TABLE, BEST_TABLE, MIXED_TABLE], ids=["uniform", "oracle", "mixed"])
def test_estimators_are_unbiased(table):
    truth = true_value(table)
    found = replicate_estimates(table, seed=20261124)
    for name in ("ips", "snips", "dr"):
        # The mean of 200 independent estimates has standard error sd / sqrt(200); an unbiased
        # estimator lands within 4 of them (two-sided chance of a miss ~6e-5). SNIPS and the
        # in-sample DR carry an O(1/n) bias, far below that bound at n = 1000.
        standard_error = found[name].std(ddof=1) / np.sqrt(REPLICATIONS)
        assert abs(found[name].mean() - truth) < 4 * standard_error, (name, found[name].mean(), truth)
    # The test has power: the plain mean of logged rewards estimates the logging policy, not this one.
    naive_error = found["naive"].std(ddof=1) / np.sqrt(REPLICATIONS)
    assert abs(found["naive"].mean() - truth) > 4 * naive_error


def test_dr_is_unbiased_with_a_wrong_reward_model():
    """Doubly robust: with right propensities, even a useless reward model leaves DR unbiased."""
    truth = true_value(MIXED_TABLE)
    found = replicate_estimates(MIXED_TABLE, seed=99, wrong_model=True)
    standard_error = found["dr"].std(ddof=1) / np.sqrt(REPLICATIONS)
    assert abs(found["dr"].mean() - truth) < 4 * standard_error  # as in test_estimators_are_unbiased


def test_dr_has_less_variance_than_ips():
    found = replicate_estimates(MIXED_TABLE, seed=7)
    assert found["dr"].std() < found["ips"].std()
    assert found["snips"].std() < found["ips"].std()


def test_bootstrap_intervals_cover_the_truth():
    """95% intervals on 60 logs: coverage near 0.95. With 60 logs the binomial standard deviation
    of the coverage is sqrt(0.95 * 0.05 / 60) = 0.028, so >= 0.85 is more than 3 of them below."""
    rng = np.random.default_rng(11)
    truth = true_value(MIXED_TABLE)
    covered = {"ips": 0, "snips": 0, "dr": 0}
    runs = 60
    for run in range(runs):
        evaluation = evaluate_policy(draw_log(ROWS, rng), TablePolicy(MIXED_TABLE), n_bootstrap=200, seed=run)
        for name, estimate in evaluation.estimates.items():
            covered[name] += estimate.ci_low <= truth <= estimate.ci_high
    for name, hits in covered.items():
        assert hits / runs >= 0.85, (name, hits)


def test_one_seeded_evaluation_holds_the_truth_in_every_interval():
    log = draw_log(5000, np.random.default_rng(3))
    for candidate, table in ((UniformCandidate(), UNIFORM_TABLE), (FixedCandidate("z"), np.eye(4)[[2, 2, 2]])):
        evaluation = evaluate_policy(log, candidate, n_bootstrap=300, seed=1)
        assert evaluation.n == 5000
        for name, estimate in evaluation.estimates.items():
            assert estimate.ci_low <= true_value(table) <= estimate.ci_high, (candidate, name, estimate)
            assert estimate.ci_low <= estimate.value <= estimate.ci_high
        assert evaluation.warnings == []


def test_bootstrap_is_reproducible_with_a_seed():
    log = draw_log(500, np.random.default_rng(5))
    first = evaluate_policy(log, UniformCandidate(), n_bootstrap=100, seed=9)
    again = evaluate_policy(log, UniformCandidate(), n_bootstrap=100, seed=9)
    other = evaluate_policy(log, UniformCandidate(), n_bootstrap=100, seed=10)
    assert first.estimates == again.estimates
    assert first.estimates["ips"].ci_low != other.estimates["ips"].ci_low


def test_unlogged_action_is_flagged():
    log = draw_log(2000, np.random.default_rng(8))
    evaluation = evaluate_policy(log, FixedCandidate("never-shown"), n_bootstrap=50)
    assert evaluation.estimates["ips"].value == 0.0
    assert any("never shows" in w and "100.0%" in w for w in evaluation.warnings), evaluation.warnings


def test_tiny_logging_propensities_are_flagged():
    # The logging policy almost never shows w in city:a and city:b (p = 0.001): a policy that always
    # shows w rests on a handful of rows with weights of 1000.
    logging = np.array([[0.499, 0.25, 0.25, 0.001], [0.499, 0.25, 0.25, 0.001], [0.25, 0.25, 0.25, 0.25]])
    log = draw_log(3000, np.random.default_rng(2), logging=logging)
    evaluation = evaluate_policy(log, FixedCandidate("w"), n_bootstrap=50)
    assert any("effective sample size" in w for w in evaluation.warnings), evaluation.warnings
    assert any("largest importance weight" in w for w in evaluation.warnings), evaluation.warnings


def test_effective_sample_size():
    assert effective_sample_size(np.ones(10)) == pytest.approx(10)
    assert effective_sample_size(np.array([0.0, 0.0, 5.0])) == pytest.approx(1)
    assert effective_sample_size(np.zeros(3)) == 0.0


def test_reward_model_falls_back_to_the_action_mean():
    log = BanditLog.from_columns(["a", "a", "b", "a"], [1, 0, 1, 1], [0.5] * 4, ["c1", "c1", "c1", "c2"])
    model = RewardModel.fit(log, ("a", "b", "z"))
    q = model.predict(log)
    assert q[0].tolist() == [0.5, 1.0, 0.75]  # c1: own means; z never shown: overall mean 3/4
    assert q[3].tolist() == [1.0, 1.0, 0.75]  # c2 never shows b: b's mean over all contexts


def test_log_validation():
    with pytest.raises(ValueError, match="propensities must be in"):
        BanditLog.from_columns(["a"], [1.0], [0.0])
    with pytest.raises(ValueError, match="one entry per action"):
        BanditLog.from_columns(["a", "b"], [1.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="at least one row"):
        BanditLog.from_columns([], [], [])
    with pytest.raises(ValueError, match="must be in"):
        OverlapThresholds(min_ess_share=2)
