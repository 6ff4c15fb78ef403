"""Shared fixtures: one real Cassandra per test run, one keyspace per run, fresh tenants per test.

Cassandra: ``SLOTBANDIT_TEST_CASSANDRA_IMAGE`` (e.g. ``cassandra:5.0``) runs the whole suite against
a container of that image (testcontainers; skipped where no Docker engine answers).
``CASSANDRA_HOSTS`` set means that cluster is used as is. Otherwise the embedded
server is started on SLOTBANDIT_TEST_CASSANDRA_PORT (19042; storage port 17000) with its data in a
temporary directory, watched by this pytest process so it never outlives the run, and stopped at
the end. Each run applies the schema to a keyspace of its own, so runs never see each other's data.
"""
from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Dict, Iterable, Optional

import pytest

from app.settings import REPO_ROOT, Settings

TEST_SECRET = b"test-secret-0123456789abcdef"


@pytest.fixture(scope="session")
def cassandra_settings() -> Iterable[Settings]:
    base = Settings.from_env({k: v for k, v in os.environ.items() if k != "SLOTBANDIT_SECRET"})
    keyspace = f"sbtest_{secrets.token_hex(4)}"
    image = os.environ.get("SLOTBANDIT_TEST_CASSANDRA_IMAGE")
    if image:
        yield from _container_settings(image, replace(base, keyspace=keyspace))
        return
    if base.cassandra_hosts:
        yield replace(base, keyspace=keyspace)
        return
    from app.devservers.cassandra import EmbeddedCassandra

    port = int(os.environ.get("SLOTBANDIT_TEST_CASSANDRA_PORT", "19042"))
    data_dir = Path(tempfile.mkdtemp(prefix="slotbandit-test-cassandra-"))
    server = EmbeddedCassandra(port=port, storage_port=port - 2042, data_dir=data_dir,
                               cache_dir=REPO_ROOT / ".cache")
    server.start(watch_pid=os.getpid(), log=lambda message: None)
    try:
        yield replace(base, keyspace=keyspace, cassandra_port=port, protocol_version=3)
    finally:
        _shut_down_open_clusters()
        server.stop(log=lambda message: None)
        shutil.rmtree(data_dir, ignore_errors=True)


def process_env(settings: Settings) -> Dict[str, str]:
    """The environment a `slotbandit` child process needs to reach this test's Cassandra and keyspace."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASSANDRA_", "KAFKA_"))}
    env.update({
        "CASSANDRA_PORT": str(settings.cassandra_port), "CASSANDRA_KEYSPACE": settings.keyspace,
        "SLOTBANDIT_SECRET": settings.secret.decode(), "SLOTBANDIT_LOG_LEVEL": "WARNING",
    })
    if settings.cassandra_hosts:
        env["CASSANDRA_HOSTS"] = ",".join(settings.cassandra_hosts)
    if settings.protocol_version:
        env["CASSANDRA_PROTOCOL_VERSION"] = str(settings.protocol_version)
    return env


def _shut_down_open_clusters() -> None:
    """Driver clusters that tests left open (runtimes built for one test) would try to reconnect to
    the stopped server until the interpreter exits, and log a trace on every try; the driver's own
    exit hook shuts them down only then. Shut them down first (the set that hook reads)."""
    from cassandra import cluster

    for open_cluster in list(getattr(cluster, "_clusters_for_shutdown", ())):
        open_cluster.shutdown()


def _container_settings(image: str, base: Settings) -> Iterable[Settings]:
    try:
        import docker

        docker.from_env(timeout=5).ping()
    except Exception as error:
        pytest.skip(f"SLOTBANDIT_TEST_CASSANDRA_IMAGE={image} needs a Docker engine: {type(error).__name__}")
    from testcontainers.community.cassandra import CassandraContainer

    with CassandraContainer(image) as container:
        host, port = container.get_contact_points()[0]
        yield replace(base, cassandra_hosts=(host,), cassandra_port=int(port), protocol_version=None)


@pytest.fixture(scope="session")
def settings(cassandra_settings: Settings) -> Settings:
    """Settings of the service under test: short refresh and write intervals, a fixed secret, schema
    applied. Tests drive a few hundred decisions in seconds and check what was learned from them;
    with the service's 0.5 s write interval, the newest clicks would be read against impressions
    still queued."""
    from app.storage.schema import apply_schema

    apply_schema(cassandra_settings, log=lambda message: None)
    return replace(cassandra_settings, secret=TEST_SECRET, posterior_refresh_s=0.2, config_refresh_s=0.5,
                   write_interval_s=0.05)


@pytest.fixture(scope="session")
def runtime(settings: Settings):
    import numpy as np

    from app.service.runtime import Runtime

    rt = Runtime.build(settings, rng=np.random.default_rng(12345))
    yield rt
    rt.close()


@pytest.fixture(autouse=True)
def seeded_policies(request):
    """Each test that uses the session's runtime decides with policies of its own, drawing from a
    generator seeded by the test's name: its draws do not depend on which tests ran before it."""
    if "runtime" not in request.fixturenames:
        yield
        return
    import zlib

    import numpy as np

    from bandit import ThompsonConfig, ThompsonPolicy
    from bandit.policies.revenue import RevenueConfig, RevenuePolicy

    rt = request.getfixturevalue("runtime")
    rng = np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
    rt.policy, rt.revenue_policy = ThompsonPolicy(ThompsonConfig(), rng), RevenuePolicy(RevenueConfig(), rng)
    yield


@pytest.fixture(scope="session")
def app(settings: Settings, runtime):
    from app.api.factory import create_app

    return create_app(settings, runtime=runtime)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def db(runtime):
    return runtime.db


class TenantHandle:
    """A fresh tenant of the running service with helpers to configure its slots in CQL."""

    def __init__(self, db, name: str, key: str):
        self.db, self.name, self.key = db, name, key

    @property
    def headers(self) -> dict:
        return {"X-Api-Key": self.key}

    def events(self, slot_id: str, platform: str = "web") -> list:
        """The slot's events of the last, this and the next UTC hour (rows and impression blocks)."""
        from datetime import datetime, timedelta, timezone

        from app.storage.event_log import EventStore

        hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
        return list(EventStore(self.db).read_period(self.name, platform, slot_id, hour - timedelta(hours=1),
                                                    hour + timedelta(hours=2)))

    def add_slot(self, slot_id: str, creatives: Iterable[str] = ("a", "b", "c"), platform: str = "web",
                 attribution_window_s: Optional[int] = None, cities: Optional[dict] = None,
                 inactive: Iterable[str] = ()) -> str:
        self.db.execute(
            "INSERT INTO slots (tenant, platform, slot_id, attribution_window_s) VALUES (?, ?, ?, ?)",
            (self.name, platform, slot_id, attribution_window_s),
        )
        for creative_id in creatives:
            self.set_creative(slot_id, creative_id, platform=platform, active=creative_id not in set(inactive),
                              cities=(cities or {}).get(creative_id))
        return slot_id

    def set_creative(self, slot_id: str, creative_id: str, platform: str = "web", active: bool = True,
                     cities: Optional[set] = None, payload: str = '{"title": "t"}') -> None:
        self.db.execute(
            "INSERT INTO creatives (tenant, platform, slot_id, creative_id, image_url, payload, active, cities) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (self.name, platform, slot_id, creative_id, f"https://img.example/{creative_id}.png", payload, active,
             set(cities or ())),
        )


@pytest.fixture
def make_tenant(runtime):
    def make(prefix: str = "t") -> TenantHandle:
        name = f"{prefix}-{secrets.token_hex(4)}"
        return TenantHandle(runtime.db, name, runtime.tenants.create(name))
    return make


@pytest.fixture
def tenant(make_tenant) -> TenantHandle:
    return make_tenant()


@pytest.fixture
def cli(settings, monkeypatch):
    """Run ``slotbandit ARGS...`` in-process; the environment points at the test Cassandra and keyspace."""
    from click.testing import CliRunner

    from app.cli import main

    monkeypatch.setenv("CASSANDRA_PORT", str(settings.cassandra_port))
    monkeypatch.setenv("CASSANDRA_KEYSPACE", settings.keyspace)
    if settings.protocol_version:
        monkeypatch.setenv("CASSANDRA_PROTOCOL_VERSION", str(settings.protocol_version))
    else:
        monkeypatch.delenv("CASSANDRA_PROTOCOL_VERSION", raising=False)
    if settings.cassandra_hosts:
        monkeypatch.setenv("CASSANDRA_HOSTS", ",".join(settings.cassandra_hosts))
    else:
        monkeypatch.delenv("CASSANDRA_HOSTS", raising=False)

    def run(*args, input=None):
        return CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)
    return run
