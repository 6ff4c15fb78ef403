"""bandit.priors: fitting seeded priors, and what they do to the policy's decisions and regret."""
from __future__ import annotations

import numpy as np
import pytest

from bandit import ArmCounts, BetaPosterior, SlotSnapshot, ThompsonConfig, posteriors_for
from bandit.priors import COLD_START, HISTORY, POOLED, PriorConfig, cap_strength, fit_slot_priors
from bandit.sampling import thompson_draw

RATES = {"pune": {"a": 0.02, "b": 0.05, "c": 0.08}, "delhi": {"a": 0.03, "b": 0.06, "c": 0.04}}


def synthetic_history(seed: int, impressions: int):
    """Binomial counts per (city, creative) from RATES, and their slot-wide sums."""
    rng = np.random.default_rng(seed)
    city_history = {city: {c: ArmCounts(impressions, int(rng.binomial(impressions, r))) for c, r in rates.items()}
                    for city, rates in RATES.items()}
    slot_history = {c: sum((city_history[city][c] for city in RATES), ArmCounts()) for c in "abc"}
    return slot_history, city_history


def test_cap_strength_keeps_the_mean_and_caps_the_weight():
    capped = cap_strength(BetaPosterior(30.0, 970.0), 50.0)
    assert capped.alpha + capped.beta == pytest.approx(50.0)
    assert capped.mean == pytest.approx(0.03)
    assert cap_strength(BetaPosterior(2.0, 8.0), 50.0) == BetaPosterior(2.0, 8.0)


def test_fitted_priors_recover_the_true_rates():
    slot_history, city_history = synthetic_history(seed=3, impressions=20_000)
    fitted = fit_slot_priors(slot_history, city_history, "abc", list(RATES), PriorConfig(max_strength=1e9))
    for city, rates in RATES.items():
        for creative, rate in rates.items():
            prior = fitted.get(f"city:{city}", creative)
            assert prior.source == HISTORY
            # 20,000 impressions at <= 8 %: standard error <= sqrt(0.08 * 0.92 / 20000) = 0.0019;
            # pooling with s <= 100 against n = 20,000 moves the mean by < 0.5 % of the gap to the
            # slot mean (< 0.0002). 0.006 is three standard errors plus that.
            assert prior.prior.mean == pytest.approx(rate, abs=0.006)
    slot_a = fitted.get("global", "a").prior.mean
    assert slot_a == pytest.approx(0.025, abs=0.004)  # mean of 0.02 and 0.03 at equal traffic


def test_every_prior_is_capped_so_history_cannot_freeze_learning():
    slot_history, city_history = synthetic_history(seed=3, impressions=20_000)
    fitted = fit_slot_priors(slot_history, city_history, "abc", list(RATES), PriorConfig(max_strength=40))
    assert all(p.prior.alpha + p.prior.beta <= 40 + 1e-9 for p in fitted.priors)


def test_a_city_without_history_gets_the_pooled_prior():
    slot_history, city_history = synthetic_history(seed=3, impressions=2_000)
    fitted = fit_slot_priors(slot_history, city_history, "abc", ["pune", "delhi", "goa"], PriorConfig())
    for creative in "abc":
        goa = fitted.get("city:goa", creative)
        assert goa.source == POOLED
        assert goa.prior.mean == pytest.approx(fitted.get("global", creative).prior.mean)
        assert goa.prior.alpha + goa.prior.beta == pytest.approx(fitted.city_strength)


def test_a_creative_without_history_is_predicted_at_low_strength_or_left_out():
    slot_history, city_history = synthetic_history(seed=3, impressions=2_000)
    config = PriorConfig(cold_start_strength=4.0)
    fitted = fit_slot_priors(slot_history, city_history, "abcd", list(RATES), config,
                             predict=lambda city, creative: 0.1 if city is None else 0.2)
    new = fitted.get("global", "d")
    assert new.source == COLD_START and new.prior.mean == pytest.approx(0.1)
    assert new.prior.alpha + new.prior.beta == pytest.approx(4.0)
    assert fitted.get("city:pune", "d").prior.mean == pytest.approx(0.2)
    assert fit_slot_priors(slot_history, city_history, "abcd", list(RATES), config).get("global", "d") is None


def test_the_policy_uses_seeded_priors_slot_wide_and_in_a_city_without_live_counts():
    priors = {"global": {"a": BetaPosterior(5.0, 45.0)}, "city:pune": {"a": BetaPosterior(9.0, 1.0)}}
    snapshot = SlotSnapshot(segments={"global": {"a": ArmCounts(10, 2)}}, priors=priors)
    used, (a, b) = posteriors_for(snapshot, None, ["a", "b"], ThompsonConfig())
    assert used == "global"
    assert (a.alpha, a.beta) == (7.0, 53.0)  # seeded prior + live counts
    assert (b.alpha, b.beta) == (1.0, 1.0)  # no prior seeded: Beta(1, 1)
    used, (a, _) = posteriors_for(snapshot, "city:pune", ["a", "b"], ThompsonConfig())
    assert used == "city:pune" and (a.alpha, a.beta) == (9.0, 1.0)


TRUE = {"a": 0.02, "b": 0.035, "c": 0.05, "d": 0.08}


def expected_regret(priors: dict, seed: int, visitors: int = 2_000) -> float:
    """Sum over visitors of (best rate - rate of the creative shown), Thompson sampling slot-wide."""
    rng = np.random.default_rng(seed)
    ids = list(TRUE)
    counts = {c: ArmCounts() for c in ids}
    best, regret = max(TRUE.values()), 0.0
    for _ in range(visitors):
        snapshot = SlotSnapshot(segments={"global": dict(counts)}, priors={"global": priors} if priors else {})
        _, posteriors = posteriors_for(snapshot, None, ids, ThompsonConfig())
        chosen = ids[thompson_draw(np.array([p.alpha for p in posteriors]), np.array([p.beta for p in posteriors]),
                                   rng)]
        regret += best - TRUE[chosen]
        counts[chosen] = counts[chosen] + ArmCounts(1, int(rng.random() < TRUE[chosen]))
    return regret


@pytest.mark.slow
def test_a_seeded_slot_has_lower_regret_over_its_first_2000_visitors():
    history_rng = np.random.default_rng(5)
    slot_history = {c: ArmCounts(3_000, int(history_rng.binomial(3_000, r))) for c, r in TRUE.items()}
    fitted = fit_slot_priors(slot_history, {}, list(TRUE), [], PriorConfig(max_strength=50))
    priors = {p.creative_id: p.prior for p in fitted.priors}
    seeds = range(12)
    seeded = np.mean([expected_regret(priors, seed) for seed in seeds])
    unseeded = np.mean([expected_regret({}, seed) for seed in seeds])
    # Unseeded Thompson sampling spends its first few hundred visitors exploring four arms whose
    # rates differ by 1.5-6 points; seeded priors worth 50 impressions start near the truth.
    # Measured with these seeds: 9.2 (seeded) against 22.4 (unseeded) expected clicks lost, a
    # ratio of 0.41. The test asks for at most 0.6: the 12 fixed seeds make the result
    # deterministic, and the margin still holds if the policy's internals shift the draws a little.
    assert seeded < 0.6 * unseeded, (seeded, unseeded)
