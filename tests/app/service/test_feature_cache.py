"""The per-customer feature cache of the decision path (pure logic: a stand-in store)."""
from app.service.feature_segments import FeatureCache


class Store:
    """Answers feature_row like CustomerStore for a customer without events, or fails."""

    def __init__(self, fail=False):
        self.fail, self.calls = fail, 0

    def feature_row(self, tenant, customer_id):
        self.calls += 1
        if self.fail:
            raise RuntimeError("no host available")
        return None


def test_a_customer_is_read_once_per_ttl():
    store = Store()
    cache = FeatureCache(store, ttl_s=60)
    assert [cache.get("t", "c1") for _ in range(3)] == [None, None, None]
    assert store.calls == 1 and cache.reads == 1
    cache.get("t", "c2")
    assert store.calls == 2


def test_an_expired_entry_is_read_again():
    store = Store()
    cache = FeatureCache(store, ttl_s=0)
    cache.get("t", "c1")
    cache.get("t", "c1")
    assert store.calls == 2


def test_a_failed_read_gives_no_features_and_is_not_cached():
    store = Store(fail=True)
    cache = FeatureCache(store, ttl_s=60)
    assert cache.get("t", "c1") is None and cache.get("t", "c1") is None
    assert store.calls == 2


def test_a_full_cache_starts_afresh():
    store = Store()
    cache = FeatureCache(store, ttl_s=60, max_entries=2)
    for customer in ("c0", "c1", "c2", "c0"):  # c2 finds the cache full: c0 is read again
        cache.get("t", customer)
    assert store.calls == 4
