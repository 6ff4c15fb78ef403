"""Streaming fixtures: one real Tansu broker per test run, fresh topics and spool per test.

The broker listens on SLOTBANDIT_TEST_KAFKA_PORT (19093, beside the development broker's 19092),
is watched by this pytest process so it never outlives the run, and is stopped at the end. Each
test gets its own topic prefix, so tests never see each other's messages.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional

import pytest

from app.settings import REPO_ROOT, Settings
from tests.conftest import process_env


@pytest.fixture(scope="session")
def kafka_broker():
    from app.devservers.kafka import EmbeddedKafka

    port = int(os.environ.get("SLOTBANDIT_TEST_KAFKA_PORT", "19093"))
    data_dir = Path(tempfile.mkdtemp(prefix="slotbandit-test-kafka-"))
    broker = EmbeddedKafka(port=port, data_dir=data_dir, cache_dir=REPO_ROOT / ".cache")
    broker.start(watch_pid=os.getpid(), log=lambda message: None)
    try:
        yield broker
    finally:
        broker.stop(log=lambda message: None)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def stream_settings(settings: Settings, kafka_broker, tmp_path) -> Settings:
    """The test settings in Kafka mode, with topics and a spool of this test's own."""
    return replace(settings, kafka_bootstrap_servers=f"127.0.0.1:{kafka_broker.port}",
                   kafka_topic_prefix=f"t{secrets.token_hex(4)}.", spool_dir=tmp_path / "spool")


def worker_env(settings: Settings) -> Dict[str, str]:
    """The environment a `slotbandit worker` process needs to reach this test's Cassandra and topics."""
    env = process_env(settings)
    env.update({"KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
                "SLOTBANDIT_KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix})
    return env


@pytest.fixture
def spawn_worker(stream_settings, tmp_path):
    """Start `slotbandit worker` processes; every one still running is killed at the end."""
    started: List[subprocess.Popen] = []

    def spawn(group: str = "g", metrics_port: int = 0) -> subprocess.Popen:
        log = open(tmp_path / f"worker-{len(started)}.log", "wb")
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "slotbandit"), "worker", "--group", group, "--metrics-port", str(metrics_port)],
            cwd=REPO_ROOT, env=worker_env(stream_settings), stdout=log, stderr=subprocess.STDOUT)
        started.append(process)
        return process

    yield spawn
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.25) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(poll_s)


@pytest.fixture
def thread_worker(stream_settings, db):
    """Run `Worker`s in threads of this process; all are stopped at the end."""
    import threading

    from app.stream.worker import Worker

    running = []

    def start(group: str = "g", settings: Optional[Settings] = None):
        worker = Worker(settings or stream_settings, db, group=group)
        thread = threading.Thread(target=worker.run, name=f"worker-{group}", daemon=True)
        thread.start()
        running.append((worker, thread))
        return worker, thread

    yield start
    for worker, thread in running:
        worker.stop_requested.set()
    for worker, thread in running:
        thread.join(timeout=20)
