"""Reading wrk reports and the pacing arithmetic (no server, no wrk needed)."""
import pytest

from benchmarks.wrk import (
    PACING_LUA,
    pacing_interval_ms,
    parse_metric,
    parse_paced,
    parse_time_ms,
    parse_wrk,
)

# Captured from wrk 4.1.0 (Debian) against the bare endpoint under gunicorn, one connection:
# sub-millisecond latencies are printed in "us", thread rates with a "k" suffix.
WRK_MICROSECONDS = """\
Running 3s test @ http://127.0.0.1:18766/bare
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   351.62us  466.92us  11.90ms   98.62%
    Req/Sec     2.51k   324.66     3.22k    70.00%
  Latency Distribution
     50%  301.00us
     75%  347.00us
     90%  413.00us
     99%    1.18ms
  7495 requests in 3.00s, 1.17MB read
Requests/sec:   2497.84
Transfer/sec:    397.61KB
"""

# Captured from wrk 4.1.0 against a handler that sleeps 1.1 s: latencies in "s" (with wrk's
# trailing padding space), a per-thread rate without suffix.
WRK_SECONDS = """\
Running 3s test @ http://127.0.0.1:18765/slow
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.12s    21.68ms   1.14s    75.00%
    Req/Sec     1.00      0.00     1.00    100.00%
  Latency Distribution
     50%    1.14s 
     75%    1.14s 
     90%    1.14s 
     99%    1.14s 
  4 requests in 3.01s, 624.00B read
Requests/sec:      1.33
Transfer/sec:     207.65B
"""

# Captured from wrk 4.1.0 against an endpoint answering 404, and one timing out (--timeout 1s).
WRK_NOT_FOUND = """\
Running 2s test @ http://127.0.0.1:18765/missing
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    43.22ms    6.29ms  51.34ms   96.20%
    Req/Sec    45.47      8.36    60.00     72.50%
  Latency Distribution
     50%   43.99ms
     75%   44.15ms
     90%   44.43ms
     99%   51.14ms
  184 requests in 2.02s, 29.88KB read
  Non-2xx or 3xx responses: 184
Requests/sec:     90.93
Transfer/sec:     14.77KB
"""

WRK_TIMEOUTS = """\
Running 4s test @ http://127.0.0.1:18765/slow
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.00us    0.00us   0.00us    -nan%
    Req/Sec     1.00      0.00     1.00    100.00%
  Latency Distribution
     50%    0.00us
     75%    0.00us
     90%    0.00us
     99%    0.00us
  6 requests in 4.01s, 0.91KB read
  Socket errors: connect 0, read 0, write 0, timeout 6
Requests/sec:      1.50
Transfer/sec:     233.36B
"""


def test_microsecond_latencies_and_k_rates():
    result = parse_wrk(WRK_MICROSECONDS)
    assert result.requests == 7495 and result.seconds == pytest.approx(3.0)
    assert result.requests_per_s == pytest.approx(2497.84)
    assert result.thread_requests_per_s == pytest.approx(2510.0)
    assert result.latency_ms == pytest.approx(
        {"avg": 0.35162, "max": 11.9, "50": 0.301, "75": 0.347, "90": 0.413, "99": 1.18})
    assert result.errors == 0 and result.socket_errors == {}


def test_second_latencies():
    result = parse_wrk(WRK_SECONDS)
    assert result.latency_ms["50"] == pytest.approx(1140.0) and result.latency_ms["99"] == pytest.approx(1140.0)
    assert result.latency_ms["avg"] == pytest.approx(1120.0)
    assert result.requests_per_s == pytest.approx(1.33) and result.thread_requests_per_s == pytest.approx(1.0)


def test_error_answers_and_socket_errors_are_counted():
    not_found = parse_wrk(WRK_NOT_FOUND)
    assert not_found.non_2xx == 184 and not_found.errors == 184
    assert not_found.latency_ms["99"] == pytest.approx(51.14)
    timeouts = parse_wrk(WRK_TIMEOUTS)
    assert timeouts.socket_errors == {"connect": 0, "read": 0, "write": 0, "timeout": 6}
    assert timeouts.errors == 6 and timeouts.seconds == pytest.approx(4.01)


def test_an_output_without_a_report_is_an_error():
    with pytest.raises(ValueError, match="wrk output has no line"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


@pytest.mark.parametrize("text, ms", [("812.00us", 0.812), ("1.23ms", 1.23), ("1.02s", 1020.0),
                                      ("2.00m", 120_000.0), ("0.00us", 0.0)])
def test_time_units(text, ms):
    assert parse_time_ms(text) == pytest.approx(ms)


@pytest.mark.parametrize("text, value", [("812.00", 812.0), ("2.01k", 2010.0), ("1.10M", 1.1e6)])
def test_metric_suffixes(text, value):
    assert parse_metric(text) == pytest.approx(value)


@pytest.mark.parametrize("bad", ["", "1.2 ms", "fast", "3.0q"])
def test_malformed_numbers_are_rejected(bad):
    with pytest.raises(ValueError):
        parse_time_ms(bad)


# Captured from wrk 4.1.0 running PACING_LUA (2 threads, 4 ms apart each: 500 req/s) against the
# bare endpoint; the script's done() adds the last line.
WRK_PACED = """\
Running 5s test @ http://127.0.0.1:18780/bare
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.88ms   10.46ms  68.86ms   90.60%
    Req/Sec   244.21     29.73   320.00     85.00%
  Latency Distribution
     50%    1.91ms
     75%    4.97ms
     90%   15.54ms
     99%   55.80ms
  2445 requests in 5.03s, 389.19KB read
Requests/sec:    486.24
Transfer/sec:     77.40KB
Paced: 2461 sent, 45 late
"""


def test_pacing_interval_splits_the_rate_over_threads():
    # 2 threads sharing 500 req/s: each sends every 2 * 1000 / 500 = 4 ms.
    assert pacing_interval_ms(500, 2) == pytest.approx(4.0)
    assert pacing_interval_ms(250, 1) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="must be positive"):
        pacing_interval_ms(0, 2)


def test_pacing_script_carries_interval_and_thread_count():
    script = PACING_LUA.format(interval_ms=4.0, threads=2)
    assert "local interval_ms = 4.000000" in script and "local thread_count = 2" in script
    assert "function delay()" in script and "{interval_ms" not in script and "{threads}" not in script


def test_paced_run_reports_sent_and_late():
    assert parse_paced(WRK_PACED) == {"sent": 2461, "late": 45}
    assert parse_wrk(WRK_PACED).latency_ms["99"] == pytest.approx(55.8)
    with pytest.raises(ValueError, match="no 'Paced:' line"):
        parse_paced(WRK_MICROSECONDS)
