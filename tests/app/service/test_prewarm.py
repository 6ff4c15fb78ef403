"""Prewarmer: a reloaded snapshot's propensities are computed before requests use it (unit tests, no storage)."""
import numpy as np

from app.service.prewarm import IDLE_S, MAX_LOOKUPS, Prewarmer
from bandit import ArmCounts, SlotSnapshot, ThompsonConfig, ThompsonPolicy
from bandit.policies.revenue import RevenueConfig, RevenuePolicy

CREATIVES = ("a", "b", "c")


class CountingPolicy(ThompsonPolicy):
    """ThompsonPolicy that counts how often it runs the expensive part."""

    computed = 0

    def _compute_arms(self, *args):
        self.computed += 1
        return super()._compute_arms(*args)


class CountingRevenuePolicy(RevenuePolicy):
    computed = 0

    def _compute_arms(self, *args):
        self.computed += 1
        return super()._compute_arms(*args)


class Clock:
    now = 1000.0

    def __call__(self):
        return self.now


def snapshot(version, clicks=(5, 9, 2)):
    arms = {cid: ArmCounts(impressions=200, clicks=k) for cid, k in zip(CREATIVES, clicks)}
    pune = {cid: ArmCounts(impressions=20 + version, clicks=1) for cid in CREATIVES}
    return SlotSnapshot({"global": arms, "city:pune": pune}, version=version)


def test_a_reloaded_snapshot_is_warm_for_every_lookup_decisions_made():
    policy = CountingPolicy(ThompsonConfig(), np.random.default_rng(1))
    warmer = Prewarmer()
    first = snapshot(1)
    for segment in (None, "city:pune"):
        policy.decide(first, segment, CREATIVES)
        warmer.note(("t", "web", "home"), policy, segment, CREATIVES)
    assert policy.computed == 2

    second = snapshot(2, clicks=(50, 9, 2))  # different posteriors: new Monte Carlo needed
    assert warmer.warm(("t", "web", "home"), second) == 2
    assert policy.computed == 4
    for segment in (None, "city:pune"):
        policy.decide(second, segment, CREATIVES)
    assert policy.computed == 4  # the requests found both computed
    assert warmer.warm(("t", "web", "other"), second) == 0  # a slot never decided on warms nothing


def test_revenue_lookups_are_warmed_with_their_prices():
    policy = CountingRevenuePolicy(RevenueConfig(), np.random.default_rng(2))
    warmer = Prewarmer()
    prices = {"a": 0.99, "c": 19.99}  # b has no price
    policy.decide(snapshot(1), None, CREATIVES, prices)
    warmer.note("slot", policy, None, CREATIVES, prices)
    second = snapshot(2, clicks=(40, 9, 2))
    assert warmer.warm("slot", second) == 1
    computed = policy.computed
    policy.decide(second, None, CREATIVES, prices)
    assert policy.computed == computed
    policy.decide(second, None, CREATIVES, {"a": 0.99, "c": 29.99})  # other prices: other arms
    assert policy.computed == computed + 1


def test_idle_lookups_are_forgotten_and_each_slot_remembers_a_bounded_number():
    clock = Clock()
    policy = CountingPolicy(ThompsonConfig(), np.random.default_rng(3))
    warmer = Prewarmer(clock)
    warmer.note("slot", policy, "city:pune", CREATIVES)
    clock.now += IDLE_S + 1
    assert warmer.warm("slot", snapshot(2)) == 0
    assert policy.computed == 0

    for i in range(MAX_LOOKUPS + 10):
        warmer.note("busy", policy, f"city:c{i}", CREATIVES)
    assert warmer.warm("busy", snapshot(3)) == MAX_LOOKUPS


def test_a_failing_lookup_is_logged_and_the_others_still_warm(caplog):
    policy = CountingPolicy(ThompsonConfig(), np.random.default_rng(4))
    warmer = Prewarmer()
    warmer.note("slot", policy, None, ("a", "a"))  # duplicate ids: the policy refuses them
    warmer.note("slot", policy, None, CREATIVES)
    assert warmer.warm("slot", snapshot(1)) == 1
    assert "prewarm failed" in caplog.text
