"""One local SparkSession for every job test (it takes 5-10 s to start), and the CLI runner."""
from __future__ import annotations

import pytest
from click.testing import CliRunner


@pytest.fixture(scope="session")
def spark():
    pytest.importorskip("pyspark", reason="the spark extra is not installed")
    from app.jobs.spark import spark_session

    session = spark_session("slotbandit-tests")
    yield session
    session.stop()


@pytest.fixture
def cli(settings, spark, monkeypatch):
    """Run ``slotbandit ARGS...`` in-process against the test Cassandra and keyspace."""
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

    def run(*args):
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return run
