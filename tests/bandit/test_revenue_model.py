"""The factor posteriors of the revenue objective, on hand-built totals."""
import math

import numpy as np
import pytest

from bandit import GLOBAL, ArmCounts, BetaPosterior, SlotSnapshot
from bandit.policies.revenue import RevenueConfig, RevenueTotals, revenue_posteriors
from bandit.revenue_model import NormalGamma, draw_means, pooled_beta, pooled_normal_gamma


def test_totals_add_and_reject_what_cannot_be_a_sum():
    assert RevenueTotals(1.5, 0.5, 10.0, 70.0) + RevenueTotals(1, 0, 4, 16) == RevenueTotals(2.5, 0.5, 14.0, 86.0)
    with pytest.raises(ValueError, match="purchases must be finite and >= 0, but -1"):
        RevenueTotals(purchases=-1.0)
    with pytest.raises(TypeError, match="gross must be a number"):
        RevenueTotals(gross="9.99")


def test_normal_gamma_update_by_hand():
    # Prior: mean 10, worth 1 purchase, sd 5 -> (mu, kappa, alpha, beta) = (10, 1, 2, 25).
    prior = NormalGamma.around(10.0, 5.0, 1.0)
    assert prior == NormalGamma(10.0, 1.0, 2.0, 25.0)
    # Amounts 10 and 14, credit 1 each: weight 2, total 24, total_sq 296; x_bar 12, SS 8.
    posterior = prior.updated(2.0, 24.0, 296.0)
    assert posterior.kappa == 3.0
    assert posterior.mu == pytest.approx((10.0 + 24.0) / 3.0)
    assert posterior.alpha == 3.0
    # beta' = 25 + 8 / 2 + 1 x 2 x (12 - 10)^2 / (2 x 3)
    assert posterior.beta == pytest.approx(25.0 + 4.0 + 8.0 / 6.0)
    assert prior.updated(0.0, 0.0, 0.0) is prior


def test_normal_gamma_takes_fractional_credit():
    # One purchase of 20 split between two decisions: each holds weight 0.5, total 10, total_sq 200.
    half = NormalGamma.around(20.0, 10.0, 1.0).updated(0.5, 10.0, 200.0)
    assert half.kappa == 1.5 and half.mu == pytest.approx(20.0) and half.alpha == 2.25


def test_mean_draws_centre_on_the_posterior_mean_and_never_go_negative():
    posterior = NormalGamma.around(5.0, 2.5, 1.0).updated(50.0, 50 * 6.0, 50 * 36.0 + 49 * 1.0)
    draws = draw_means(*(np.array([v]) for v in (posterior.mu, posterior.kappa, posterior.alpha,
                                                posterior.beta)), np.random.default_rng(3), 20_000)
    # The marginal of mu is Student-t with 2 alpha dof and scale sqrt(beta / (alpha kappa)) ~ 0.14 here;
    # the mean of 20,000 draws has sd ~ 0.001, so 0.01 is a 10-sd margin.
    assert draws.mean() == pytest.approx(posterior.mu, abs=0.01)
    wide = draw_means(np.array([0.1]), np.array([0.01]), np.array([2.0]), np.array([1.0]),
                      np.random.default_rng(4), 10_000)
    assert wide.min() == 0.0 and (wide == 0.0).mean() > 0.2  # a prior this wide reaches below 0: floored


def test_pooled_beta_is_the_pooling_formula_with_fractional_counts():
    parent = BetaPosterior(3.0, 7.0)  # mean 0.3
    pooled = pooled_beta(2.5, 10.0, parent, strength=20.0)
    assert pooled == BetaPosterior(0.3 * 20 + 2.5, 0.7 * 20 + 7.5)
    assert pooled_beta(12.0, 10.0, parent, 20.0).alpha == pytest.approx(0.3 * 20 + 10.0)  # clamped to trials


def test_pooled_normal_gamma_never_trusts_the_parent_more_than_its_data():
    parent = NormalGamma(19.0, 4.0, 3.0, 8.0)
    assert pooled_normal_gamma(parent, 10.0) == NormalGamma.around(19.0, math.sqrt(4.0), 4.0)
    assert pooled_normal_gamma(parent, 2.0).kappa == 2.0


SNAPSHOT = SlotSnapshot(
    segments={
        GLOBAL: {"pack": ArmCounts(1_000, 100), "spin": ArmCounts(500, 100)},
        "segment:whale": {"pack": ArmCounts(200, 20), "spin": ArmCounts(100, 20)},
        "segment:casual": {"pack": ArmCounts(800, 80), "spin": ArmCounts(400, 80)},
    },
    revenue={
        GLOBAL: {"pack": RevenueTotals(20.0, 2.5, 400.0, 8_100.0), "spin": RevenueTotals(4.0, 0.0, 8.0, 16.0)},
        "segment:whale": {"pack": RevenueTotals(15.0, 1.0, 300.0, 6_000.0)},
        "segment:casual": {"pack": RevenueTotals(5.0, 1.5, 100.0, 2_100.0), "spin": RevenueTotals(4, 0, 8, 16)},
    },
)
PRICES = {"pack": 19.99, "spin": None}


def test_every_slot_wide_factor_is_its_conjugate_update():
    config = RevenueConfig()
    used, posteriors = revenue_posteriors(SNAPSHOT, None, ["pack", "spin"], PRICES, config)
    assert used == GLOBAL
    assert posteriors.click == (BetaPosterior(101.0, 901.0), BetaPosterior(101.0, 401.0))
    assert posteriors.purchase[0] == BetaPosterior(1 + 20.0, 1 + 100 - 20.0)
    assert posteriors.refund[0] == BetaPosterior(1 + 2.5, 1 + 20 - 2.5)
    # The amount prior sits at the price (sd half of it, worth one purchase), then adds 20 purchases.
    assert posteriors.amount[0] == config.amount_prior(19.99).updated(20.0, 400.0, 8_100.0)
    assert config.amount_prior(19.99).mu == 19.99
    # Without a price the prior sits at default_amount.
    assert posteriors.amount[1] == NormalGamma.around(1.0, 0.5, 1.0).updated(4.0, 8.0, 16.0)
    assert posteriors.refund[1] == BetaPosterior(1.0, 1.0 + 4.0)


def test_a_leaf_is_pooled_toward_the_slot_wide_posterior_of_every_factor():
    _, slot_wide = revenue_posteriors(SNAPSHOT, None, ["pack"], PRICES, RevenueConfig())
    used, whale = revenue_posteriors(SNAPSHOT, "segment:whale", ["pack"], PRICES, RevenueConfig())
    assert used == "segment:whale"
    purchase, parent = whale.purchase[0], slot_wide.purchase[0]
    strength = purchase.alpha + purchase.beta - 20  # what pooling added on top of the 20 leaf clicks
    assert 0 < strength <= parent.alpha + parent.beta  # capped by the slot-wide posterior's weight
    assert purchase.alpha == pytest.approx(parent.mean * strength + 15.0)
    # The whales buy at 15 / 20 = 0.75, the slot at 0.2: the leaf lies between, nearer its own data.
    assert parent.mean < purchase.mean < 0.75
    assert whale.amount[0].mu == pytest.approx(
        (min(10.0, slot_wide.amount[0].kappa) * slot_wide.amount[0].mu + 300.0)
        / (min(10.0, slot_wide.amount[0].kappa) + 15.0)
    )


def test_config_says_what_is_wrong():
    with pytest.raises(ValueError, match="purchase_prior alpha must be finite and > 0, but 0.0"):
        RevenueConfig(purchase_prior=(0.0, 1.0))
    with pytest.raises(TypeError, match="thompson must be a ThompsonConfig"):
        RevenueConfig(thompson={"propensity_draws": 10})
