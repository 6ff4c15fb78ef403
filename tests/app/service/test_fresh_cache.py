"""RefreshingCache: stale while revalidate within its refresh interval, never past its hard bound
(idle gaps included), the last good value while storage fails, and every failure counted."""
import time

import pytest

from app.service import fresh_cache
from app.service.fresh_cache import RefreshingCache


class Source:
    """A loader whose value and health the test sets."""

    def __init__(self):
        self.value, self.down, self.reads = 1, False, 0

    def __call__(self, key):
        self.reads += 1
        if self.down:
            raise ConnectionError("storage down")
        return self.value


def test_an_entry_past_its_bound_is_read_again_before_it_is_served():
    source = Source()
    cache = RefreshingCache("t", source, ttl_s=0.05, max_age_s=0.2)
    assert cache.get("k") == 1
    source.value = 2
    time.sleep(0.3)  # an idle gap: no request scheduled a background refresh
    assert cache.get("k") == 2  # not the stale 1


def test_within_the_bound_a_stale_entry_is_served_at_once_and_refreshed_behind():
    source = Source()
    cache = RefreshingCache("t", source, ttl_s=0.05, max_age_s=5)
    cache.get("k")
    source.value = 2
    time.sleep(0.1)
    assert cache.get("k") == 1  # served at once...
    deadline = time.monotonic() + 2
    while cache.get("k") != 2 and time.monotonic() < deadline:  # ...and refreshed in the background
        time.sleep(0.01)
    assert cache.get("k") == 2


def test_storage_down_serves_the_last_good_value_counts_the_failure_and_waits_before_reading_again(monkeypatch):
    monkeypatch.setattr(fresh_cache, "RETRY_S", 0.3)
    source, errors = Source(), []
    cache = RefreshingCache("t", source, ttl_s=0.05, max_age_s=0.1, on_refresh_error=errors.append)
    cache.get("k")
    source.down = True
    time.sleep(0.15)
    reads = source.reads
    assert [cache.get("k") for _ in range(5)] == [1] * 5
    assert source.reads == reads + 1 and errors == ["t"]  # one read, then RETRY_S of the last good value
    source.down, source.value = False, 3
    time.sleep(0.35)
    assert cache.get("k") == 3


def test_a_key_never_seen_while_storage_is_down_is_an_error():
    source = Source()
    source.down = True
    with pytest.raises(ConnectionError):
        RefreshingCache("t", source, ttl_s=1, max_age_s=2).get("new")


def test_the_bound_cannot_be_shorter_than_the_refresh_interval():
    with pytest.raises(ValueError, match="max_age_s must be at least ttl_s"):
        RefreshingCache("t", Source(), ttl_s=2, max_age_s=1)


@pytest.mark.integration
def test_the_service_counts_a_failed_configuration_read_and_keeps_deciding(client, tenant, runtime, monkeypatch):
    from prometheus_client import REGISTRY

    tenant.add_slot("home", creatives=["a"])
    headers = tenant.headers
    assert client.get("/slot/home/creative?platform=web", headers=headers).status_code == 200
    before = REGISTRY.get_sample_value("slotbandit_cache_refresh_errors_total", {"cache": "slots"}) or 0.0

    def down(*key):
        raise ConnectionError("storage down")

    from app.service.runtime import CONFIG_MAX_AGE_S

    time.sleep(CONFIG_MAX_AGE_S + 0.3)  # an idle gap past the configuration's bound: the next request reads it
    monkeypatch.setattr(runtime.catalog, "load_slot", down)
    answer = client.get("/slot/home/creative?platform=web", headers=headers)
    assert answer.status_code == 200 and answer.get_json()["creative"]["creative_id"] == "a"  # the last good value
    assert REGISTRY.get_sample_value("slotbandit_cache_refresh_errors_total", {"cache": "slots"}) == before + 1
