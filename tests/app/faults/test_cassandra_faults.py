"""Clicks and impressions across Cassandra faults, on real processes (scripts/benchmarks/faults.py):
one node stopped for 10 s under load, one node of three killed with SIGKILL under load.

Each scenario runs its own embedded Cassandra and ``slotbandit serve`` (two gunicorn workers) and
drives 20 decisions a second, each clicked once, every refused click sent again until it is
acknowledged. What the service counted must equal what the clients were told, exactly.
"""
import pytest

from benchmarks.faults import cassandra_outage, node_loss

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The click path must be back within 5 s of Cassandra answering again (the target is 2 s; the
# driver tries a lost node again at most every second). 5 s leaves room for a busy 2-core machine.
RECOVERY_BOUND_S = 5.0


def test_cassandra_stopped_under_load_loses_and_doubles_nothing(tmp_path):
    report = cassandra_outage(tmp_path, outage_s=10, log=print)
    print("\n".join(report.lines()))
    assert report.decisions_served > 300 and report.refused_click_attempts > 0  # the fault happened under load
    assert report.failed_decisions == 0  # decisions are served from the last snapshot during the outage
    assert report.clicks_unacknowledged == 0 and report.clicks_acknowledged == report.decisions_served
    assert (report.lost_impressions, report.doubled_impressions) == (0, 0)
    assert (report.lost_clicks, report.doubled_clicks) == (0, 0)
    assert report.recovery_s is not None and report.recovery_s < RECOVERY_BOUND_S


def test_one_node_of_three_killed_fails_no_decision_and_counts_exactly(tmp_path):
    # A click whose retries meet writes of unknown outcome again and again waits one 15 s lease each
    # time; the clients keep sending it for 3 minutes (one click took over 90 s in one run of many).
    report = node_loss(tmp_path, log=print, click_deadline_s=180)
    print("\n".join(report.lines()))
    assert report.decisions_served > 100
    assert report.failed_decisions == 0
    assert report.clicks_unacknowledged == 0 and report.clicks_acknowledged == report.decisions_served
    assert (report.lost_impressions, report.doubled_impressions) == (0, 0)
    assert (report.lost_clicks, report.doubled_clicks) == (0, 0)
