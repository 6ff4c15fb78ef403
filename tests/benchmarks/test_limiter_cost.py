"""benchmarks.limiter_cost measures what it says (a few calls; the figures are printed by scripts/bench)."""
from benchmarks.limiter_cost import measure


def test_the_limiter_cost_is_measured_per_call():
    cost = measure(calls=2000)
    assert cost["calls"] == 2000
    assert 0 < cost["bucket_us"] and 0 < cost["admit_us"] < 1000
