"""The publisher with no broker at all: nothing blocks, the spool fills to its bound, overflow is counted."""
from __future__ import annotations

import json
import socket
import time
from dataclasses import replace

from prometheus_client import REGISTRY

from app.settings import Settings
from app.stream.publisher import PER_MESSAGE, KafkaPublisher
from tests.app.stream.helpers import synthetic_events


def dropped(reason: str) -> float:
    return REGISTRY.get_sample_value("slotbandit_stream_dropped_total", {"reason": reason}) or 0.0


def test_unreachable_broker_spools_up_to_the_bound_and_counts_the_rest(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = replace(Settings(), kafka_bootstrap_servers=f"127.0.0.1:{port}", spool_dir=tmp_path,
                       spool_max_events=1000)
    publisher = KafkaPublisher(settings)
    before = dropped("spool_full")
    started = time.monotonic()
    assert all(publisher.publish(item) for item in synthetic_events("acme", "hero", 1500))
    # The request path never waits for the broker: 1,500 publishes take milliseconds, one attempt to
    # reach the unreachable broker takes seconds. 10 s is generous for a busy machine and still far
    # below 1,500 sequential broker timeouts.
    assert time.monotonic() - started < 10.0
    assert publisher.flush(30)
    state = publisher.state()
    # Events are spooled in messages of up to PER_MESSAGE events: the spool stops at the first
    # message that would pass the bound, so it holds between 1000 - PER_MESSAGE and 1000 events.
    assert state["kafka"] == "spooling" and 1000 - PER_MESSAGE < state["spooled"] <= 1000
    assert dropped("spool_full") - before == 1500 - state["spooled"]  # every event spooled or counted
    publisher.close()
    with open(next(tmp_path.glob("spool-*.log")), "rb") as kept:  # on disk, for the next process
        assert sum(json.loads(line)[2].count('"event_id":') for line in kept) == state["spooled"]
