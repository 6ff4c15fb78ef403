"""Kafka mode, the whole service (gunicorn master and workers) killed with SIGKILL under click load:
every click it acknowledged was durable (on the broker or in the spool on disk) before its 202, so
after a restart and the clients' retries of what was not acknowledged, the clicks counted equal
the decisions clicked, exactly."""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest
import requests

from benchmarks.live_server import LiveServer
from tests.app.stream.conftest import wait_until
from tests.app.stream.helpers import stream_totals

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DECISIONS = 200


def kafka_env(settings) -> dict:
    return {"KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "SLOTBANDIT_KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
            "SLOTBANDIT_SPOOL_DIR": str(settings.spool_dir)}


def kill_service(server: LiveServer) -> None:
    """SIGKILL the gunicorn master and every worker at once: no drain, no exit hook."""
    children = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True).stdout.split()
    for pid in [server.process.pid, *map(int, children)]:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    server.process.wait(timeout=10)
    server.process = None


def test_every_acknowledged_click_survives_the_service_being_killed(stream_settings, tenant, db, thread_worker):
    tenant.add_slot("hero", creatives=["a", "b"])
    server = LiveServer(stream_settings, workers=2, extra_env=kafka_env(stream_settings)).start()
    with requests.Session() as http:
        http.headers.update(tenant.headers)
        decisions = [http.get(f"{server.url}/slot/hero/creative", params={"platform": "web"}, timeout=10).json()
                     for _ in range(DECISIONS)]
    ids = [d["decision_id"] for d in decisions]
    acknowledged, lock = set(), threading.Lock()

    def click_all(url: str, pending: list, stop: threading.Event) -> None:
        with requests.Session() as http:
            http.headers.update(tenant.headers)
            for decision_id in pending:
                if stop.is_set():
                    return
                try:
                    answer = http.post(f"{url}/click", json={"decision_id": decision_id}, timeout=15)
                except requests.RequestException:
                    continue
                if answer.status_code in (200, 202):
                    with lock:
                        acknowledged.add(decision_id)

    stop = threading.Event()
    clickers = [threading.Thread(target=click_all, args=(server.url, ids[i::4], stop)) for i in range(4)]
    for thread in clickers:
        thread.start()
    wait_until(lambda: len(acknowledged) >= DECISIONS // 3, 60, "a third of the clicks to be acknowledged", 0.01)
    kill_service(server)
    stop.set()
    for thread in clickers:
        thread.join(timeout=30)
    killed_after = len(acknowledged)
    assert 0 < killed_after < DECISIONS  # the service died in the middle of the clicks

    restarted = LiveServer(stream_settings, workers=2, extra_env=kafka_env(stream_settings)).start()
    try:
        deadline = time.monotonic() + 90
        while len(acknowledged) < DECISIONS and time.monotonic() < deadline:
            click_all(restarted.url, [d for d in ids if d not in acknowledged], threading.Event())
            time.sleep(0.5)
        assert len(acknowledged) == DECISIONS
    finally:
        restarted.stop()
    thread_worker()

    def clicks_counted() -> int:
        return sum(clicks for (segment, _), (_, clicks) in stream_totals(db, tenant.name, "hero").items()
                   if segment == "global")

    wait_until(lambda: clicks_counted() >= DECISIONS, 60, f"{DECISIONS} clicks applied by the worker")
    time.sleep(2)  # a duplicate would be applied by now too
    assert clicks_counted() == DECISIONS
