"""The stream worker against the real broker and Cassandra. Every count is compared exactly."""
from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time

import pytest
import requests

from app.stream.kafka_io import ensure_topics, make_consumer
from app.stream.messages import Topics
from tests.app.stream.conftest import wait_until
from tests.app.stream.helpers import (applied_events, expected_totals, produce_raw, stream_totals,
                                      synthetic_events)

pytestmark = [pytest.mark.integration]


def send(settings, items, rate_per_s: float = 0.0) -> None:
    """Produce the events to their topics (keyed by slot), optionally paced."""
    topics = Topics(settings.kafka_topic_prefix)
    ensure_topics(settings.kafka_bootstrap_servers, topics.all)
    step = 100
    for start in range(0, len(items), step):
        chunk = items[start : start + step]
        for kind in ("impression", "click"):
            produce_raw(settings.kafka_bootstrap_servers, topics.for_kind(kind),
                        [(i.key, i.to_json()) for i in chunk if i.event.kind == kind])
        if rate_per_s:
            time.sleep(len(chunk) / rate_per_s)


def test_duplicate_deliveries_count_once(stream_settings, tenant, db, thread_worker):
    slot = tenant.add_slot("dup")
    items = synthetic_events(tenant.name, slot, 300)
    # Every event once, a third of them twice more, interleaved with later events.
    deliveries = items + items[::3] + items[::3]
    send(stream_settings, deliveries)
    worker, _ = thread_worker()
    wait_until(lambda: worker.totals.applied + worker.totals.duplicates == len(deliveries), 60, "all deliveries")
    assert stream_totals(db, tenant.name, slot) == expected_totals(items)
    assert worker.totals.applied == 300 and worker.totals.duplicates == 200
    assert len(tenant.events(slot)) == 300  # the event log too: one row per event id


def test_poison_messages_go_to_the_dead_letter_topic(stream_settings, tenant, db, thread_worker):
    slot = tenant.add_slot("poison")
    items = synthetic_events(tenant.name, slot, 120)
    strangers = synthetic_events("no-such-tenant-x", slot, 7)
    body = json.loads(items[0].to_json())
    poison = [b"not json", b"[1, 2]", b"{}", json.dumps({**body, "segments": []}).encode(),
              json.dumps({**body, "kind": "purchase"}).encode(), json.dumps({**body, "event_time_ms": "x"}).encode(),
              None]
    topics = Topics(stream_settings.kafka_topic_prefix)
    ensure_topics(stream_settings.kafka_bootstrap_servers, topics.all)
    mixed = []
    for i, item in enumerate(items):
        mixed.append((item.key, item.to_json()))
        if i % 15 == 0 and poison:
            mixed.append((item.key, poison.pop()))
        if i % 17 == 0 and strangers:
            stranger = strangers.pop()
            mixed.append((stranger.key, stranger.to_json()))
    assert not poison and not strangers
    produce_raw(stream_settings.kafka_bootstrap_servers, topics.impressions,
                [(k, v) for k, v in mixed if v is None or b'"kind":"click"' not in v])
    produce_raw(stream_settings.kafka_bootstrap_servers, topics.clicks,
                [(k, v) for k, v in mixed if v is not None and b'"kind":"click"' in v])

    worker, thread = thread_worker()
    wait_until(lambda: worker.dead_letters == 14 and worker.totals.applied == 120, 60, "120 applied, 14 dead")
    assert stream_totals(db, tenant.name, slot) == expected_totals(items)
    assert thread.is_alive()

    reader = make_consumer(stream_settings.kafka_bootstrap_servers, group=None, consumer_timeout_ms=5000)
    reader.subscribe([topics.dead_letter])
    letters = list(reader)
    reader.close()
    reasons = [dict(letter.headers)["reason"].decode() for letter in letters]
    assert len(letters) == 14
    assert reasons.count("unknown tenant") == 7
    assert sum(r.startswith("malformed: ") for r in reasons) == 7


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_sigkill_mid_stream_then_restart_is_exact(stream_settings, tenant, db, spawn_worker):
    slot = tenant.add_slot("kill")
    items = synthetic_events(tenant.name, slot, 2000)
    producer = threading.Thread(target=send, args=(stream_settings, items, 200.0))  # 10 s: outlasts the kill
    producer.start()
    metrics_port = _free_port()
    first = spawn_worker(group="kill", metrics_port=metrics_port)
    wait_until(lambda: applied_events(db, tenant.name, slot) >= 300, 60, "the first worker to apply some events")
    metrics = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    assert "slotbandit_worker_events_applied_total" in metrics and "slotbandit_worker_consumer_lag" in metrics
    assert producer.is_alive()  # the stream still flows when the worker dies (not a count reached in time)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    spawn_worker(group="kill")
    producer.join()
    wait_until(lambda: applied_events(db, tenant.name, slot) == len(items), 90, "all 2000 events after the restart")
    time.sleep(2)  # replays of the killed round must not add anything
    assert stream_totals(db, tenant.name, slot) == expected_totals(items)
    assert len(tenant.events(slot)) == len(items)


@pytest.mark.slow
def test_two_workers_in_one_group_through_rebalances_are_exact(stream_settings, tenant, db, thread_worker):
    slots = [tenant.add_slot(f"s{i}") for i in range(12)]  # many keys: every partition gets some
    items = [e for slot in slots for e in synthetic_events(tenant.name, slot, 150)]
    items.sort(key=lambda e: int(e.event.event_id.split("-")[-1]))  # interleave the slots
    before, during, after = items[:600], items[600:1200], items[1200:]
    send(stream_settings, before)
    first, first_thread = thread_worker(group="shared")
    wait_until(lambda: first.totals.applied >= 200, 60, "the first worker to start applying")
    producer = threading.Thread(target=send, args=(stream_settings, during, 300.0))
    producer.start()
    second, _ = thread_worker(group="shared")  # joins while events flow: rebalance
    wait_until(lambda: second.assignment and len(first.assignment) < 8, 60, "the partitions to be shared")
    first.stop_requested.set()  # leaves while events flow: rebalance again
    send(stream_settings, after, 300.0)
    first_thread.join(timeout=30)
    producer.join()
    total = len(items)
    wait_until(lambda: sum(applied_events(db, tenant.name, s) for s in slots) == total, 90, "all events")
    time.sleep(2)
    assert second.totals.applied > 0
    for slot in slots:
        assert stream_totals(db, tenant.name, slot) == expected_totals(i for i in items if i.event.slot_id == slot)
    assert first.totals.applied + second.totals.applied == total
