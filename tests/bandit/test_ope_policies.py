"""Candidate policies of off-policy evaluation: uniform, fixed, most popular, Thompson sampling."""
import numpy as np
import pytest

from bandit.ope import BanditLog, FixedCandidate, MostPopularCandidate, ThompsonCandidate, UniformCandidate
from tests.bandit.ope_world import draw_log


def small_log(rows):
    """rows: (context, action, reward); every propensity 0.5."""
    contexts, actions, rewards = zip(*rows)
    return BanditLog.from_columns(actions, rewards, [0.5] * len(rows), contexts)


def test_uniform_and_fixed():
    log = small_log([("global", "a", 1), ("global", "b", 0)])
    space = log.action_space(["c"])
    assert space == ("a", "b", "c")
    assert UniformCandidate().action_probabilities(log, space) == pytest.approx(np.full((2, 3), 1 / 3))
    assert FixedCandidate("c").action_probabilities(log, space).tolist() == [[0, 0, 1], [0, 0, 1]]
    assert FixedCandidate("c").required_actions() == ("c",)
    with pytest.raises(ValueError, match="non-empty"):
        FixedCandidate("")


def test_most_popular_is_the_action_with_most_clicks():
    log = small_log([("g", "a", 1), ("g", "a", 0), ("g", "a", 0), ("g", "b", 1), ("g", "b", 1), ("g", "c", 0)])
    assert MostPopularCandidate().chosen_action(log) == "b"  # two clicks, though shown less than a
    probabilities = MostPopularCandidate().action_probabilities(log, log.action_space())
    assert probabilities.tolist() == [[0, 1, 0]] * 6
    tie = small_log([("g", "a", 1), ("g", "b", 1), ("g", "b", 0)])
    assert MostPopularCandidate().chosen_action(tie) == "b"  # same clicks, shown more often


def test_thompson_learns_each_context_best_action():
    # 20,000 rows: every context has over 1,000 rows per action, so each posterior is sharp and
    # the context's best action (rates differ by >= 0.05) wins nearly every Monte Carlo draw.
    log = draw_log(20_000, np.random.default_rng(4))
    space = log.action_space()
    probabilities = ThompsonCandidate(seed=1).action_probabilities(log, space)
    assert probabilities.sum(axis=1) == pytest.approx(np.ones(log.n))
    best = {"city:a": "y", "city:b": "x", "city:c": "z"}
    for context, action in best.items():
        row = probabilities[np.flatnonzero(log.contexts == context)[0]]
        assert row[space.index(action)] > 0.95, (context, row)


def test_thompson_priors_and_pooling_strength():
    # Few rows: a's 1/4 against b's 0/4. Strong priors for b outweigh them.
    log = small_log([("global", "a", 1)] + [("global", "a", 0)] * 3 + [("global", "b", 0)] * 4)
    space = log.action_space()
    flat = ThompsonCandidate(seed=2).action_probabilities(log, space)[0]
    assert flat[0] > 0.5
    favoured = ThompsonCandidate(priors={"b": (800.0, 200.0)}, seed=2).action_probabilities(log, space)[0]
    # b ~ Beta(800, 204) sits at 0.80 +- 0.013; a ~ Beta(2, 4) exceeds 0.77 with probability < 0.01.
    assert favoured[1] > 0.95

    # A city whose own data prefer b although slot-wide a is better: weak pooling follows the city,
    # very strong pooling follows the slot.
    rows = ([("city:p", "a", 0)] * 40 + [("city:p", "b", 1)] * 20 + [("city:p", "b", 0)] * 20
            + [("city:q", "a", 1)] * 300 + [("city:q", "a", 0)] * 100 + [("city:q", "b", 0)] * 400)
    log = small_log(rows)
    space = log.action_space()
    at_p = np.flatnonzero(log.contexts == "city:p")[0]
    weak = ThompsonCandidate(strength=2.0, seed=3).action_probabilities(log, space)[at_p]
    strong = ThompsonCandidate(strength=100_000.0, seed=3).action_probabilities(log, space)[at_p]
    assert weak[space.index("b")] > 0.95
    assert strong[space.index("a")] > 0.95


def test_thompson_is_reproducible_and_validated():
    log = draw_log(300, np.random.default_rng(6))
    space = log.action_space()
    first = ThompsonCandidate(seed=5).action_probabilities(log, space)
    assert np.array_equal(first, ThompsonCandidate(seed=5).action_probabilities(log, space))
    with pytest.raises(ValueError, match="strength"):
        ThompsonCandidate(strength=0.0)
    with pytest.raises(ValueError, match="alpha"):
        ThompsonCandidate(priors={"a": (0.0, 1.0)})
