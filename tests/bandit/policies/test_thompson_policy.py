from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from bandit import (
    GLOBAL,
    ArmCounts,
    BetaPosterior,
    Decision,
    PoolingConfig,
    SlotSnapshot,
    ThompsonConfig,
    ThompsonPolicy,
    pooled_posterior,
    posteriors_for,
    slot_prior_strength,
)

CREATIVES = ("a", "b", "c")


def make_snapshot(version=1):
    return SlotSnapshot(
        segments={
            GLOBAL: {"a": ArmCounts(3_000, 150), "b": ArmCounts(2_000, 120), "c": ArmCounts(50, 1)},
            "city:pune": {"a": ArmCounts(40, 1), "b": ArmCounts(30, 4)},
            "city:delhi": {"a": ArmCounts(2_000, 120), "b": ArmCounts(1_500, 60)},
            "city:jaipur": {"a": ArmCounts(960, 29), "b": ArmCounts(470, 56), "c": ArmCounts(50, 1)},
            "city:agra": {"a": ArmCounts(0, 0)},
            "segment:vip": {"a": ArmCounts(500, 250), "b": ArmCounts(500, 0)},
        },
        version=version,
    )


def make_policy(seed=0, **config):
    return ThompsonPolicy(ThompsonConfig(**config), np.random.default_rng(seed))


def propensity_of(decision, probabilities, n_draws=10_000):
    """The cached probability of the chosen creative, floored at 1 / (2 n_draws)."""
    return max(probabilities[CREATIVES.index(decision.creative_id)], 0.5 / n_draws)


def test_snapshot_reads_zero_counts_for_what_it_lacks():
    snapshot = make_snapshot()
    assert snapshot.counts("city:pune", "c") == ArmCounts()
    assert snapshot.counts("city:nowhere", "a") == ArmCounts()
    assert snapshot.counts("city:pune", "b") == ArmCounts(30, 4)


def test_snapshot_knows_segments_with_impressions_only():
    snapshot = make_snapshot()
    assert snapshot.has_segment("city:pune")
    assert not snapshot.has_segment("city:agra")
    assert not snapshot.has_segment("city:nowhere")


@pytest.mark.parametrize("segment", [None, GLOBAL, "city:nowhere", "city:agra"])
def test_global_posteriors_without_leaf_data(segment):
    used, posteriors = posteriors_for(make_snapshot(), segment, CREATIVES, ThompsonConfig())
    assert used == GLOBAL
    assert posteriors == [BetaPosterior(151.0, 2_851.0), BetaPosterior(121.0, 1_881.0),
                          BetaPosterior(2.0, 50.0)]


def test_global_posteriors_use_the_configured_prior():
    config = ThompsonConfig(prior_alpha=2.0, prior_beta=8.0)
    _, posteriors = posteriors_for(make_snapshot(), None, ["c"], config)
    assert posteriors == [BetaPosterior(3.0, 57.0)]


def test_leaf_posteriors_pool_toward_global_with_the_city_strength():
    snapshot = make_snapshot()
    config = ThompsonConfig()
    cities = ["city:pune", "city:delhi", "city:jaipur", "city:agra"]
    strength = slot_prior_strength(
        {c: [snapshot.counts(city, c) for city in cities] for c in CREATIVES}, config.pooling
    )
    used, posteriors = posteriors_for(snapshot, "city:pune", CREATIVES, config)
    assert used == "city:pune"
    for creative_id, posterior in zip(CREATIVES, posteriors):
        parent = BetaPosterior.from_counts(snapshot.counts(GLOBAL, creative_id))
        expected = pooled_posterior(snapshot.counts("city:pune", creative_id), parent, strength)
        assert posterior.alpha == pytest.approx(expected.alpha)
        assert posterior.beta == pytest.approx(expected.beta)


def test_other_families_do_not_change_the_city_strength():
    snapshot = make_snapshot()
    without_vip = SlotSnapshot(
        {key: arms for key, arms in snapshot.segments.items() if key != "segment:vip"}
    )
    config = ThompsonConfig()
    assert posteriors_for(snapshot, "city:pune", CREATIVES, config) == posteriors_for(
        without_vip, "city:pune", CREATIVES, config
    )


def test_decision_names_the_segment_used():
    policy = make_policy()
    snapshot = make_snapshot()
    assert policy.decide(snapshot, "city:nowhere", CREATIVES).segment == GLOBAL
    assert policy.decide(snapshot, None, CREATIVES).segment == GLOBAL
    assert policy.decide(snapshot, "city:pune", CREATIVES).segment == "city:pune"


def test_propensity_is_the_cached_choice_probability():
    policy = make_policy()
    snapshot = make_snapshot()
    segment, probabilities = policy.probabilities(snapshot, "city:jaipur", CREATIVES)
    assert segment == "city:jaipur"
    assert probabilities.sum() == pytest.approx(1.0)
    for _ in range(50):
        decision = policy.decide(snapshot, "city:jaipur", CREATIVES)
        assert decision.propensity == propensity_of(decision, probabilities)


def test_same_snapshot_gives_the_same_probabilities():
    policy = make_policy()
    snapshot = make_snapshot()
    _, first = policy.probabilities(snapshot, "city:pune", CREATIVES)
    _, second = policy.probabilities(snapshot, "city:pune", list(CREATIVES))
    assert np.array_equal(first, second)


def test_unknown_segments_share_the_global_probabilities():
    policy = make_policy()
    snapshot = make_snapshot()
    assert np.array_equal(
        policy.probabilities(snapshot, "city:nowhere", CREATIVES)[1],
        policy.probabilities(snapshot, None, CREATIVES)[1],
    )


def test_cached_probabilities_cannot_be_changed_by_callers():
    _, probabilities = make_policy().probabilities(make_snapshot(), None, CREATIVES)
    with pytest.raises(ValueError):
        probabilities[0] = 1.0


def test_decisions_follow_their_propensities():
    # The share of n = 20,000 decisions estimates the same p as the cached Monte
    # Carlo propensity (N = 10,000 draws): the difference has standard error
    # sqrt(p (1 - p) (1 / n + 1 / N)); 4 of those is a false alarm in ~1e-4.
    n, big_n = 20_000, 10_000
    policy = make_policy(seed=5, propensity_draws=big_n)
    snapshot = make_snapshot()
    _, probabilities = policy.probabilities(snapshot, "city:jaipur", CREATIVES)
    chosen = [policy.decide(snapshot, "city:jaipur", CREATIVES).creative_id for _ in range(n)]
    frequencies = np.array([chosen.count(c) for c in CREATIVES]) / n
    standard_error = np.sqrt(probabilities * (1 - probabilities) * (1 / n + 1 / big_n))
    assert np.all(np.abs(frequencies - probabilities) <= 4 * standard_error)


def test_propensity_is_never_zero():
    # With a single Monte Carlo draw one arm gets probability 1 and the other 0,
    # yet the Thompson draw still picks that other arm about half the time.
    policy = make_policy(seed=3, propensity_draws=1)
    snapshot = SlotSnapshot({GLOBAL: {"a": ArmCounts(100, 5), "b": ArmCounts(100, 5)}})
    propensities = {policy.decide(snapshot, None, ["a", "b"]).propensity for _ in range(100)}
    assert propensities == {1.0, 0.5}


def test_single_creative_has_propensity_one():
    decision = make_policy().decide(make_snapshot(), "city:pune", ["b"])
    assert decision == Decision(creative_id="b", segment="city:pune", propensity=1.0)


def test_threads_share_one_cache_entry():
    policy = make_policy()
    snapshot = make_snapshot()
    with ThreadPoolExecutor(max_workers=8) as pool:
        decisions = list(pool.map(lambda _: policy.decide(snapshot, "city:delhi", CREATIVES),
                                  range(400)))
    _, probabilities = policy.probabilities(snapshot, "city:delhi", CREATIVES)
    for decision in decisions:
        assert decision.propensity == propensity_of(decision, probabilities)


def test_empty_creative_list_is_an_error():
    with pytest.raises(ValueError, match="creative_ids must hold at least one creative"):
        make_policy().decide(make_snapshot(), None, [])


def test_repeated_creatives_are_an_error():
    with pytest.raises(ValueError, match="creative_ids must be distinct"):
        make_policy().decide(make_snapshot(), None, ["a", "b", "a"])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"propensity_draws": 0}, ValueError, "propensity_draws must be >= 1, but 0 is given"),
        ({"propensity_draws": 2.5}, TypeError, "propensity_draws must be an integer"),
        ({"prior_alpha": 0.0}, ValueError, "prior_alpha must be finite and > 0, but 0.0 is given"),
        ({"prior_beta": -1.0}, ValueError, "prior_beta must be finite and > 0, but -1.0 is given"),
        ({"pooling": {"min_strength": 1.0}}, TypeError, "pooling must be a PoolingConfig"),
    ],
)
def test_thompson_config_is_validated(kwargs, error, message):
    with pytest.raises(error, match=message):
        ThompsonConfig(**kwargs)


def test_default_config_pools_with_default_bounds():
    assert ThompsonConfig().pooling == PoolingConfig()


def test_propensities_drawn_in_slices_are_the_draws_of_one_matrix():
    """The policy draws its Monte Carlo in slices of MC_SLICE rows (to let request threads run);
    numpy draws a matrix row by row, so the slices give exactly the numbers of one big draw."""
    from bandit import choice_probabilities

    snapshot = make_snapshot()
    _, probabilities = make_policy(seed=5).probabilities(snapshot, "city:jaipur", CREATIVES)
    _, posteriors = posteriors_for(snapshot, "city:jaipur", CREATIVES, ThompsonConfig())
    expected = choice_probabilities(np.array([p.alpha for p in posteriors]), np.array([p.beta for p in posteriors]),
                                    np.random.default_rng(5), ThompsonConfig().propensity_draws)
    np.testing.assert_array_equal(probabilities, expected)
