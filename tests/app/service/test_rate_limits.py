"""The limit that applies to a tenant, and the limiter's answers (a fake clock, private buckets)."""
import pytest

from app import metrics
from app.errors import TooManyRequests
from app.service.rate_limits import Limit, RateLimiter, effective_limit
from app.service.shared_buckets import SharedBuckets
from app.storage.tenants import StoredLimit


@pytest.mark.parametrize("stored, default, expected", [
    (StoredLimit(None, None), 0.0, Limit(0.0, 1.0)),       # no limit of its own, no default: unlimited
    (StoredLimit(None, None), 50.0, Limit(50.0, 50.0)),    # the default, a burst of one second
    (StoredLimit(20.0, None), 50.0, Limit(20.0, 20.0)),    # its own limit wins
    (StoredLimit(20.0, 100.0), 0.0, Limit(20.0, 100.0)),
    (StoredLimit(0.0, None), 50.0, Limit(0.0, 1.0)),       # 0: unlimited whatever the default
    (StoredLimit(0.5, None), 0.0, Limit(0.5, 1.0)),        # a burst holds at least one request
    (None, 5.0, Limit(5.0, 5.0)),
    (StoredLimit(10.0, 0.2), 0.0, Limit(10.0, 1.0)),       # written with cqlsh: still one request at least
    (StoredLimit(-3.0, None), 5.0, Limit(0.0, 1.0)),
])
def test_the_limit_that_applies(stored, default, expected):
    assert effective_limit(stored, default) == expected
    assert expected.unlimited == (expected.rps == 0)


def counted(tenant, result):
    return metrics.TENANT_REQUESTS.labels(tenant, result)._value.get()


def test_over_the_limit_is_refused_with_when_to_retry_and_counted():
    now = [1000.0]
    limits = {"busy": Limit(2.0, 3.0), "free": Limit(0.0, 1.0)}
    limiter = RateLimiter(limits.__getitem__, SharedBuckets(), clock=lambda: now[0])
    allowed_before, limited_before = counted("busy", "allowed"), counted("busy", "limited")
    for _ in range(3):
        limiter.admit("busy")
    with pytest.raises(TooManyRequests) as refused:
        limiter.admit("busy")
    assert (refused.value.status, refused.value.code, refused.value.retry_after_s) == (429, "rate_limited", 1)
    assert "2 requests per second" in refused.value.message
    now[0] += 0.5  # one token at 2/s
    limiter.admit("busy")
    for _ in range(100):
        limiter.admit("free")
    assert counted("busy", "allowed") - allowed_before == 4
    assert counted("busy", "limited") - limited_before == 1


def test_retry_after_is_whole_seconds_rounded_up():
    limiter = RateLimiter(lambda tenant: Limit(0.25, 1.0), SharedBuckets(), clock=lambda: 5.0)
    limiter.admit("slow")
    with pytest.raises(TooManyRequests) as refused:
        limiter.admit("slow")
    assert refused.value.retry_after_s == 4  # one token at 0.25/s
