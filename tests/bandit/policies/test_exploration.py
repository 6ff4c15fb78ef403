"""The exploration floor: mixture probabilities, the cap, and the frequencies of with_floor."""
import numpy as np
import pytest

from bandit import Decision
from bandit.policies.exploration import floor_share, mixed_probabilities, with_floor


def test_floor_share_is_capped_at_half_the_traffic():
    assert floor_share(None, 4) == 0.0
    assert floor_share(0.0, 4) == 0.0
    assert floor_share(0.05, 4) == 0.05
    assert floor_share(0.3, 4) == 0.125  # 4 floors of 0.3 would take 1.2 of the traffic
    assert floor_share(1.0, 1) == 0.5


def test_mixed_probabilities_sum_to_one_and_respect_the_floor():
    q = np.array([0.97, 0.02, 0.01, 0.0])
    p = mixed_probabilities(q, 0.05)
    assert p.sum() == pytest.approx(1.0)
    assert p == pytest.approx(0.05 + 0.8 * q)
    assert p.min() == pytest.approx(0.05)
    assert mixed_probabilities(q, None) == pytest.approx(q)


def test_without_a_floor_the_decision_is_untouched():
    decision = Decision("a", "global", 0.9)
    assert with_floor(decision, ["a", "b"], np.array([0.9, 0.1]), 0.0, np.random.default_rng(0)) is decision


def test_with_floor_shows_each_creative_at_its_mixture_probability():
    # The policy always picks "a" (q = [1, 0, 0, 0]); with f = 0.05 the shown shares must be
    # p = [0.85, 0.05, 0.05, 0.05]. Over 20,000 seeded requests a share's standard error is at most
    # sqrt(0.85 * 0.15 / 20000) = 0.0025: a tolerance of 0.01 is 4 standard errors.
    ids = ["a", "b", "c", "d"]
    q = np.array([1.0, 0.0, 0.0, 0.0])
    rng = np.random.default_rng(11)
    shown, propensities = [], {}
    for _ in range(20_000):
        decision = with_floor(Decision("a", "global", 1.0), ids, q, 0.05, rng)
        shown.append(decision.creative_id)
        propensities[decision.creative_id] = decision.propensity
        assert decision.segment == "global"
    shares = {cid: shown.count(cid) / len(shown) for cid in ids}
    expected = {"a": 0.85, "b": 0.05, "c": 0.05, "d": 0.05}
    for cid in ids:
        assert shares[cid] == pytest.approx(expected[cid], abs=0.01)
        assert propensities[cid] == pytest.approx(expected[cid])
