"""The frequency-cap benchmark runs against the real Cassandra and says what a capped decision costs."""
import pytest

from benchmarks.capped import format_capped, measure_capped

pytestmark = pytest.mark.integration


def test_capped_decision_is_measured_against_an_uncapped_one(settings, capsys):
    result = measure_capped(settings, decisions=1000, progress=lambda message: None)
    ms = result["ms"]
    assert set(ms) == {"no customer_id", "uncapped, customer_id", "capped, customer_id", "one Cassandra round trip",
                       "added_ms_p50", "added_round_trips"}
    # A capped decision does two more round trips to Cassandra (a write, then a read).
    assert ms["capped, customer_id"]["p50"] > ms["uncapped, customer_id"]["p50"]
    with capsys.disabled():
        print("\n" + format_capped(result))
