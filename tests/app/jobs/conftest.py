"""One local SparkSession for every job test (it takes 5-10 s to start), and the CLI runner."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    pytest.importorskip("pyspark", reason="the spark extra is not installed")
    from app.jobs.spark import spark_session

    session = spark_session("slotbandit-tests")
    yield session
    session.stop()


@pytest.fixture
def cli(cli, spark):
    """The shared ``cli`` runner (tests/conftest.py), with the test SparkSession started first."""
    return cli
