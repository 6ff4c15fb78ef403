"""The benchmark's options, round summary and report (no server, no wrk needed)."""
import pytest

from benchmarks.decisions import BenchOptions, format_report, median_result
from benchmarks.wrk import WrkResult


def wrk_result(requests_per_s: float, p50: float, p99: float) -> WrkResult:
    latency = {"avg": p50, "50": p50, "75": p50, "90": p99, "99": p99, "max": p99}
    return WrkResult(requests=int(requests_per_s * 10), seconds=10.0, requests_per_s=requests_per_s,
                     latency_ms=latency, thread_requests_per_s=requests_per_s / 2)


def results(bare_rps: float, decision_rps: float, half_p99: float) -> dict:
    """The shape run_benchmark returns, with the numbers the report reads."""
    paced = {"target_requests_per_s": decision_rps / 2, "requests_per_s": decision_rps / 2, "sent": 1000, "late": 3,
             "latency_ms": {"50": 1.5, "99": half_p99}}
    return {
        "ratio": decision_rps / bare_rps,
        "endpoints": {"bare": median_result([wrk_result(bare_rps, 4.0, 9.0)]),
                      "decision": median_result([wrk_result(decision_rps, 6.0, 20.0)])},
        "half_load": {"decision": paced, "bare": dict(paced, latency_ms={"50": 0.9, "99": 3.0})},
        "impressions": {"written": 12345.0, "dropped": 0.0},
        "rate_limiter": {"calls": 50000, "admit_us": 3.0, "bucket_us": 1.5},
        "setup": {"gunicorn_workers": 2, "worker_class": "sync", "wrk": "-t2 -c16 -d10s --latency", "rounds": 2,
                  "cassandra": "embedded, already running (left running)"},
        "machine": {"nproc": 2, "load_average_before": [0.5, 0.4, 0.3], "load_average_before_wrk": [1.0, 0.5, 0.3]},
    }


def test_rounds_are_summarised_by_their_median():
    summary = median_result([wrk_result(1000, 4.0, 10.0), wrk_result(3000, 2.0, 30.0), wrk_result(2000, 3.0, 20.0)])
    assert summary["requests_per_s"] == 2000
    assert summary["latency_ms"]["50"] == 3.0 and summary["latency_ms"]["99"] == 20.0


def test_report_passes_both_targets():
    report = format_report(results(bare_rps=4000, decision_rps=2600, half_p99=12.0))
    assert "ratio decision/bare: 0.65 (target >= 0.6: PASS)" in report
    assert "(target <= 15 ms: PASS)" in report and "(3 of 1000 sent late)" in report
    assert "nproc 2" in report and "before wrk 1.00 0.50 0.30" in report
    # 2 workers at 2,600 decisions/s: 769 us of worker time per decision, of which 3 us in the limiter
    assert "rate limiter: 3.0 us per request (the shared bucket alone 1.5 us), 0.4% of a decision's 769 us" in report


def test_report_says_which_target_is_missed():
    report = format_report(results(bare_rps=4000, decision_rps=1200, half_p99=40.0))
    assert "ratio decision/bare: 0.30 (target >= 0.6: BELOW)" in report
    assert "half load p99: 40.00 ms" in report and "(target <= 15 ms: ABOVE)" in report


def test_report_gives_the_half_life_slot_measured_in_the_same_rounds():
    measured = results(bare_rps=4000, decision_rps=2400, half_p99=12.0)
    measured["endpoints"]["decision_half_life"] = median_result([wrk_result(2480, 6.0, 20.0)])
    measured["ratio_half_life"] = 2480 / 4000
    measured["setup"]["half_life_s"] = 60
    report = format_report(measured)
    assert "decision, half-life 60 s" in report
    assert "ratio decision/bare with a half-life: 0.62 (same rounds; plain 0.60)" in report
    assert "half-life" not in format_report(results(bare_rps=4000, decision_rps=2400, half_p99=12.0))


def test_options_are_validated():
    with pytest.raises(ValueError, match="connections must be at least threads"):
        BenchOptions(connections=1, threads=2)
    with pytest.raises(ValueError, match="rounds must be an integer of at least 1, but 0 is given"):
        BenchOptions(rounds=0)
